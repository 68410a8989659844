//! `infra/azure` holds together with the handler and with itself:
//! - `host.json`, every `function.json` and `local.settings.json.example` validate against the
//!   official schemas (SchemaStore's, vendored with their licence in `specs/schemastore`; see
//!   `specs/README.md`);
//! - the functions are the ones the handler serves, with the binding names it reads and writes,
//!   and `host.json` starts the handler's executable;
//! - every application setting the handler reads is in `local.settings.json.example`, and every
//!   one it cannot start without is set by the Bicep; every binding's `connection` is set by both;
//! - every queue a binding names is one `servicebus.json` declares, which the Bicep creates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use azure_app::{FUNCTION_NAMES, ORDER_OUTPUT, Settings};
use clients::config::Env;
use function_model::azure::{HTTP_REQUEST, HTTP_RESPONSE, QUEUE_MESSAGE};
use serde_json::Value;

fn infra() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/azure")
}

/// SchemaStore's schemas, vendored in the repository.
fn schemastore() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs/schemastore")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `function.json` of every function folder, by function name.
fn functions() -> BTreeMap<String, Value> {
    std::fs::read_dir(infra())
        .expect("infra/azure")
        .filter_map(|entry| {
            let path = entry.expect("an entry").path().join("function.json");
            let name = path.parent()?.file_name()?.to_str()?.to_owned();
            path.is_file().then(|| (name, json(&path)))
        })
        .collect()
}

fn bindings(function: &Value) -> &[Value] {
    function["bindings"].as_array().map_or(&[], Vec::as_slice)
}

fn binding<'a>(function: &'a Value, kind: &str) -> Vec<&'a Value> {
    bindings(function)
        .iter()
        .filter(|b| b["type"] == kind)
        .collect()
}

/// Validates `document` against the schema, read as draft-07. `function.json`'s schema declares
/// draft-04 but uses `const`, a draft-06 keyword, in its SQL binding: read as draft-04 that
/// branch matches every binding, and every binding then fails the schema's `oneOf` (tried:
/// even `tickets`'s plain HTTP trigger). Editors read it with `const`, as its authors meant.
fn assert_valid(schema_file: &str, document: &Path) {
    let schema = json(&schemastore().join(schema_file));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .expect("the schema compiles");
    let instance = json(document);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", document.display());
}

#[test]
fn every_file_validates_against_the_official_schemas() {
    assert_valid("host.json", &infra().join("host.json"));
    assert_valid(
        "local.settings.json",
        &infra().join("local.settings.json.example"),
    );
    let functions = functions();
    assert!(!functions.is_empty());
    for name in functions.keys() {
        assert_valid("function.json", &infra().join(name).join("function.json"));
    }
}

#[test]
fn the_functions_and_their_bindings_are_the_handlers() {
    let functions = functions();
    let names: BTreeSet<&str> = functions.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        FUNCTION_NAMES.into_iter().collect(),
        "function folders"
    );
    for (name, function) in &functions {
        let http = binding(function, "httpTrigger");
        let queue = binding(function, "serviceBusTrigger");
        match (http.as_slice(), queue.as_slice()) {
            ([trigger], []) => {
                assert_eq!(trigger["name"], HTTP_REQUEST, "{name}");
                assert_eq!(
                    binding(function, "http")[0]["name"],
                    HTTP_RESPONSE,
                    "{name}"
                );
            }
            ([], [trigger]) => assert_eq!(trigger["name"], QUEUE_MESSAGE, "{name}"),
            other => panic!("{name}: one trigger, HTTP or Service Bus, not {other:?}"),
        }
    }
    let outputs = |function: &str| -> Vec<(String, String)> {
        binding(&functions[function], "serviceBus")
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_owned(),
                    b["queueName"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let orchestrator_trigger = &binding(&functions["orchestrator"], "serviceBusTrigger")[0];
    assert_eq!(
        outputs("payment"),
        [(
            ORDER_OUTPUT.to_owned(),
            orchestrator_trigger["queueName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        )],
        "the payment writes the queue the orchestrator reads"
    );
    assert_eq!(
        outputs("orchestrator"),
        [],
        "the orchestrator writes no queue"
    );
    let redrive = &binding(&functions["redrive"], "httpTrigger")[0];
    assert_eq!(
        (&redrive["authLevel"], &redrive["route"]),
        (
            &serde_json::json!("admin"),
            &serde_json::json!("executions/{name}/redrive")
        ),
        "only an operator, with the master key, redrives"
    );
    let host = json(&infra().join("host.json"));
    let executable = &host["customHandler"]["description"]["defaultExecutablePath"];
    let built = Path::new(env!("CARGO_BIN_EXE_handler"));
    assert_eq!(
        executable.as_str(),
        built.file_name().and_then(|n| n.to_str()),
        "host.json starts the handler binary"
    );
    assert_eq!(
        host["extensions"]["http"]["routePrefix"], "api",
        "the site calls /api/..."
    );
}

/// Answers from `local.settings.json.example`, without one name, and notes every name asked. (An
/// optional setting may be there empty: `MAILCHIMP_BASE_URL` when the key names the data centre.)
struct Recording<'a> {
    values: &'a BTreeMap<String, String>,
    without: Option<&'a str>,
    asked: Mutex<BTreeSet<String>>,
}

impl Env for Recording<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.asked.lock().expect("lock").insert(name.to_owned());
        if Some(name) == self.without {
            return None;
        }
        // As the process environment reads them: an empty value is unset.
        self.values
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }
}

/// The names the Bicep's `appSettings` set.
fn bicep_settings(bicep: &str) -> BTreeSet<String> {
    let start = bicep.find("appSettings: [").expect("the app's appSettings");
    let block = &bicep[start..start + bicep[start..].find("\n      ]").expect("its end")];
    let pattern = regex::Regex::new(r"\{ name: '([A-Za-z0-9_]+)'").expect("a pattern");
    pattern
        .captures_iter(block)
        .map(|c| c[1].to_owned())
        .collect()
}

#[test]
fn every_setting_the_handler_reads_is_set() {
    let example = json(&infra().join("local.settings.json.example"));
    let values: BTreeMap<String, String> = example["Values"]
        .as_object()
        .expect("Values")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect();
    let recording = Recording {
        values: &values,
        without: None,
        asked: Mutex::default(),
    };
    if let Err(e) = Settings::from_env(&recording) {
        panic!("local.settings.json.example does not start the handler: {e}");
    }
    let asked = recording.asked.into_inner().expect("lock");
    let missing: Vec<_> = asked.iter().filter(|n| !values.contains_key(*n)).collect();
    assert!(
        missing.is_empty(),
        "not in local.settings.json.example: {missing:?}"
    );

    let bicep = bicep_settings(&read(&infra().join("main.bicep")));
    for name in &asked {
        let without = Recording {
            values: &values,
            without: Some(name),
            asked: Mutex::default(),
        };
        let required = Settings::from_env(&without).is_err();
        assert!(
            !required || bicep.contains(name),
            "the handler cannot start without {name}, which main.bicep does not set"
        );
    }
    assert!(bicep.len() > 5, "{bicep:?}");
    for setting in ["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"] {
        assert!(
            values.contains_key(setting) && bicep.contains(setting),
            "{setting}"
        );
    }
    assert_eq!(values["FUNCTIONS_WORKER_RUNTIME"], "custom");
    let connections: BTreeSet<String> = functions()
        .values()
        .flat_map(|f| bindings(f).to_vec())
        .filter_map(|b| b["connection"].as_str().map(str::to_owned))
        .collect();
    assert!(!connections.is_empty());
    for connection in connections {
        let sets =
            |name: &String| *name == connection || name.starts_with(&format!("{connection}__"));
        assert!(
            values.keys().any(sets),
            "{connection} not in local.settings.json.example"
        );
        assert!(bicep.iter().any(sets), "{connection} not set by main.bicep");
    }
}

#[test]
fn every_queue_a_binding_names_is_created() {
    let declared: BTreeSet<String> = json(&infra().join("servicebus.json"))["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q["name"].as_str().expect("a name").to_owned())
        .collect();
    for (name, function) in functions() {
        for b in bindings(&function) {
            if let Some(queue) = b["queueName"].as_str() {
                assert!(
                    declared.contains(queue),
                    "{name} names {queue}, which servicebus.json does not declare"
                );
            }
        }
    }
    let bicep = read(&infra().join("main.bicep"));
    assert!(
        bicep.contains("var serviceBus = loadJsonContent('servicebus.json')")
            && bicep.contains("for queue in serviceBus.queues"),
        "main.bicep creates the queues servicebus.json declares"
    );
}
