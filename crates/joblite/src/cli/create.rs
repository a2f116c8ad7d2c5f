//! `joblite create -f`: POST each object; an existing one is an error, as
//! with kubectl (`Error from server (AlreadyExists): error when creating ...`).

use kube::api::PostParams;
use kube::core::DynamicObject;

use super::apply::{object_namespace, resolve};
use super::client::{connect, TargetArgs};
use super::errors::{api_error, render};
use super::manifest::read_inputs;
use super::run::FIELD_MANAGER;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CreateArgs {
    /// Files, directories or - for stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    pub filenames: Vec<String>,
    /// Process directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub(crate) async fn run(args: CreateArgs) -> CmdResult {
    let docs = read_inputs(&args.filenames, args.recursive)?;
    let target = connect(&args.target).await?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let mut errors = Vec::new();
    for doc in &docs {
        let result = async {
            let namespace = object_namespace(&target, doc)?;
            let (api, display) = resolve(&target, doc, &namespace).await?;
            let object: DynamicObject = serde_json::from_value(doc.object.clone())?;
            let created = api
                .create(&params, &object)
                .await
                .map_err(|e| api_error(e, Some(format!("error when creating {:?}", doc.source))))?;
            // generateName: the server picked the name.
            let name = created.metadata.name.unwrap_or_default();
            anyhow::Ok(format!("{display}/{name} created"))
        }
        .await;
        match result {
            Ok(line) => println!("{line}"),
            Err(err) => errors.push(err),
        }
    }
    for err in &errors {
        eprintln!("{}", render(err));
    }
    Ok(u8::from(!errors.is_empty()))
}
