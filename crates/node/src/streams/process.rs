//! The process runtime's streams: sessions through the node's supervisor,
//! which holds every run's stdio (see `supervisor/interactive.rs`); and
//! port-forwarding to the host's loopback, since process pods share the
//! host's network.

use std::path::{Path, PathBuf};

use api::streams::{Input, Outcome, Output, StreamOptions};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{ContainerStreams, Session, Tunnel};
use crate::protocol::{frame, parse_run_id, Request, StreamRequest};
use crate::supervisor::socket_path;
use crate::Error;

/// The container ID scheme of process runs (`joblite://<run id>`).
pub const SCHEME: &str = "joblite";

/// Messages buffered each way in a session.
const QUEUE: usize = 64;

/// Sessions with the supervisor serving a node directory.
pub struct ProcessStreams {
    dir: PathBuf,
}

impl ProcessStreams {
    pub fn new(node_dir: &Path) -> ProcessStreams {
        ProcessStreams {
            dir: node_dir.to_path_buf(),
        }
    }

    async fn open(&self, req: StreamRequest) -> Result<Session, Error> {
        let container = parse_run_id(&req.id)
            .map(|(_, c, _)| c.to_string())
            .unwrap_or_else(|| req.id.clone());
        // No supervisor: nothing runs.
        let stream = UnixStream::connect(socket_path(&self.dir))
            .await
            .map_err(|_| Error::ContainerNotFound(container.clone()))?;
        let (rd, mut wr) = stream.into_split();
        let mut line = serde_json::to_vec(&Request::Stream(req)).map_err(std::io::Error::other)?;
        line.push(b'\n');
        wr.write_all(&line).await?;
        let mut rd = BufReader::new(rd);
        match frame::read(&mut rd).await? {
            Some((frame::READY, _)) => {}
            Some((frame::REFUSED, _)) | None => return Err(Error::ContainerNotFound(container)),
            Some((kind, _)) => {
                return Err(Error::Supervisor(format!(
                    "unexpected stream frame {kind} before the session started"
                )))
            }
        }
        let (in_tx, mut in_rx) = mpsc::channel::<Input>(QUEUE);
        let (out_tx, out_rx) = mpsc::channel::<Output>(QUEUE);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            while let Some(msg) = in_rx.recv().await {
                buf.clear();
                match msg {
                    Input::Stdin(data) => frame::encode(frame::STDIN, &data, &mut buf),
                    Input::StdinEof => frame::encode(frame::STDIN_EOF, b"", &mut buf),
                    Input::Resize(size) => frame::encode(
                        frame::RESIZE,
                        &serde_json::to_vec(&size).unwrap_or_default(),
                        &mut buf,
                    ),
                }
                if wr.write_all(&buf).await.is_err() {
                    return;
                }
            }
            // The client is gone: tell the supervisor.
            let _ = wr.shutdown().await;
        });
        tokio::spawn(async move {
            let end = loop {
                let out = match frame::read(&mut rd).await {
                    Ok(Some((frame::STDOUT, data))) => Output::Stdout(data),
                    Ok(Some((frame::STDERR, data))) => Output::Stderr(data),
                    Ok(Some((frame::END, json))) => {
                        break serde_json::from_slice::<Outcome>(&json).unwrap_or_else(|e| {
                            Outcome::Failed(format!("bad session end from the supervisor: {e}"))
                        })
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => {
                        break Outcome::Failed("lost the connection to the pod supervisor".into())
                    }
                };
                if out_tx.send(out).await.is_err() {
                    return;
                }
            };
            let _ = out_tx.send(Output::End(end)).await;
        });
        Ok((in_tx, out_rx))
    }
}

fn request(run: &str, opts: &StreamOptions, command: Vec<String>) -> StreamRequest {
    StreamRequest {
        id: run.to_string(),
        command,
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
        tty: opts.tty,
    }
}

impl ContainerStreams for ProcessStreams {
    fn exec<'a>(
        &'a self,
        container_id: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Error>> {
        Box::pin(self.open(request(container_id, opts, opts.command.clone())))
    }

    fn attach<'a>(
        &'a self,
        container_id: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Error>> {
        Box::pin(self.open(request(container_id, opts, Vec::new())))
    }

    fn port_forward<'a>(
        &'a self,
        _pod: &'a Value,
        _container_id: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, Error>> {
        // Process pods share the host's network: their ports are on its
        // loopback.
        Box::pin(async move {
            let v4 = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => return Ok(Box::new(s) as Box<dyn Tunnel>),
                Err(e) => e,
            };
            match tokio::net::TcpStream::connect(("::1", port)).await {
                Ok(s) => Ok(Box::new(s) as Box<dyn Tunnel>),
                Err(v6) => Err(Error::Forward(format!(
                    "failed to connect to localhost:{port}, IPv4: dial tcp4 127.0.0.1:{port}: connect: {} IPv6 dial tcp6 [::1]:{port}: connect: {}",
                    go_errno(&v4),
                    go_errno(&v6)
                ))),
            }
        })
    }
}

/// An OS error as Go prints it (`connection refused`).
fn go_errno(e: &std::io::Error) -> String {
    e.to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_lowercase()
}
