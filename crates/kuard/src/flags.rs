//! kuard's command line, as pflag parses it: `--name=value` or
//! `--name value`, booleans as `--name` or `--name=true|false`; an unknown
//! flag is an error (exit 2).

/// The keygen workload's configuration (`keygen.Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeygenConfig {
    pub enable: bool,
    pub num_to_gen: i64,
    pub time_to_run: i64,
    #[serde(rename = "memQServer")]
    pub memq_server: String,
    #[serde(rename = "memQQueue")]
    pub memq_queue: String,
    pub exit_on_complete: bool,
    pub exit_code: i32,
}

/// Everything kuard is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub address: String,
    pub keygen: KeygenConfig,
}

pub(crate) enum Parsed {
    Run(Config),
    Help,
}

pub(crate) const USAGE: &str = "Usage of kuard:
      --address string                 The address to serve on (default \":8080\")
      --keygen-enable                  Enable KeyGen workload
      --keygen-exit-code int           Exit code when workload complete
      --keygen-exit-on-complete        Exit after workload is complete
      --keygen-memq-queue string       The MemQ server queue to use. If MemQ is used, other limits are ignored.
      --keygen-memq-server string      The MemQ server to draw work items from.  If MemQ is used, other limits are ignored.
      --keygen-num-to-gen int          The number of keys to generate. Set to 0 for infinite
      --keygen-time-to-run int         The target run time in seconds. Set to 0 for infinite
";

fn parse_bool(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "invalid argument {v:?} for \"--{name}\" flag: strconv.ParseBool: parsing {v:?}: invalid syntax"
        )),
    }
}

fn parse_int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| {
        format!(
            "invalid argument {v:?} for \"--{name}\" flag: strconv.ParseInt: parsing {v:?}: invalid syntax"
        )
    })
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut c = Config {
        address: ":8080".into(),
        keygen: KeygenConfig::default(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            break;
        }
        if a == "-h" || a == "--help" {
            return Ok(Parsed::Help);
        }
        let Some(flag) = a.strip_prefix("--") else {
            // Positional arguments are ignored, as by kuard.
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        const KNOWN: &[&str] = &[
            "address",
            "keygen-enable",
            "keygen-exit-on-complete",
            "keygen-num-to-gen",
            "keygen-time-to-run",
            "keygen-exit-code",
            "keygen-memq-server",
            "keygen-memq-queue",
            "tls-address",
            "tls-dir",
            "debug",
            "debug-sitedata-dir",
        ];
        if !KNOWN.contains(&name) {
            return Err(format!("unknown flag: --{name}"));
        }
        let boolean = matches!(name, "keygen-enable" | "keygen-exit-on-complete" | "debug");
        let value = match (inline, boolean) {
            (Some(v), _) => v,
            (None, true) => "true".into(),
            (None, false) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| format!("flag needs an argument: --{name}"))?;
                i += 1;
                v.clone()
            }
        };
        let k = &mut c.keygen;
        match name {
            "address" => c.address = value,
            "keygen-enable" => k.enable = parse_bool(name, &value)?,
            "keygen-exit-on-complete" => k.exit_on_complete = parse_bool(name, &value)?,
            "keygen-num-to-gen" => k.num_to_gen = parse_int(name, &value)?,
            "keygen-time-to-run" => k.time_to_run = parse_int(name, &value)?,
            "keygen-exit-code" => k.exit_code = parse_int(name, &value)?,
            "keygen-memq-server" => k.memq_server = value,
            "keygen-memq-queue" => k.memq_queue = value,
            // Accepted and ignored: TLS and debugging.
            "tls-address" | "tls-dir" | "debug" | "debug-sitedata-dir" => {}
            _ => return Err(format!("unknown flag: --{name}")),
        }
    }
    Ok(Parsed::Run(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v).unwrap() {
            Parsed::Run(c) => c,
            Parsed::Help => panic!("help"),
        }
    }

    #[test]
    fn the_seed_command_lines_parse() {
        let c = run(&[
            "--keygen-enable",
            "--keygen-exit-on-complete",
            "--keygen-num-to-gen",
            "10",
        ]);
        assert!(c.keygen.enable && c.keygen.exit_on_complete);
        assert_eq!(c.keygen.num_to_gen, 10);
        let c = run(&[
            "--keygen-enable",
            "--keygen-exit-on-complete",
            "--keygen-num-to-gen=10",
            "--keygen-exit-code=1",
            "--keygen-memq-server=http://queue:8080/memq/server",
            "--keygen-memq-queue=keygen",
        ]);
        assert_eq!(c.keygen.exit_code, 1);
        assert_eq!(c.keygen.memq_queue, "keygen");
        assert_eq!(c.address, ":8080");
        let bad: Vec<String> = vec!["--nope".into()];
        assert_eq!(parse(&bad).err().unwrap(), "unknown flag: --nope");
    }
}
