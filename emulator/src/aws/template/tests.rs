use super::*;
use std::collections::BTreeMap;
use std::time::Duration;

const BASE: &str = "http://127.0.0.1:3000";

fn repository_template() -> Template {
    Template::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
        .expect("template.yaml reads")
}

/// A template in a folder of its own, with a state machine file next to it.
fn template(yaml: &str) -> (tempfile::TempDir, Template) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join("machine.asl.json"),
        r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#,
    )
    .expect("written");
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, yaml).expect("written");
    let template = Template::load(&path).expect("the template reads");
    (dir, template)
}

const MINIMAL: &str = "
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.asl.json
";

fn error(yaml: &str, overrides: &[(&str, &str)]) -> TemplateError {
    let (_dir, template) = template(yaml);
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    template
        .topology(&overrides, BASE)
        .expect_err("the template is refused")
}

#[test]
fn the_repository_template_is_the_registration_system() {
    let topology = repository_template()
        .topology(&[], BASE)
        .expect("template.yaml resolves");
    let mut names: Vec<&str> = topology.functions.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "email",
            "mailing-list",
            "orchestrator",
            "payment",
            "save-order"
        ]
    );
    let payment = topology.function("payment").expect("payment");
    assert_eq!(payment.timeout, Duration::from_secs(29));
    assert_eq!(payment.memory_mb, 128);
    assert!(payment.json_logs, "Globals' LoggingConfig: JSON");
    assert_eq!(
        payment.code,
        Code::Cargo {
            binary: "payment".into()
        }
    );
    assert_eq!(
        payment.variable("REGISTRATIONS_QUEUE_URL"),
        Some(&Ok(format!("{BASE}/000000000000/RegistrationsQueue")))
    );
    assert_eq!(
        payment.variable("RUST_LOG"),
        Some(&Ok("info".into())),
        "from Globals"
    );
    let secret = payment.variable("DATABASE_URL").expect("declared").as_ref();
    assert!(
        secret
            .expect_err("a secret")
            .message
            .contains("dynamic reference"),
        "{secret:?}"
    );
    assert_eq!(
        topology.function("save-order").map(|f| f.timeout),
        Some(Duration::from_secs(10))
    );

    let queue = |name: &str| topology.queues.iter().find(|q| q.name == name).cloned();
    assert_eq!(
        queue("RegistrationsQueue"),
        Some(QueueSpec {
            name: "RegistrationsQueue".into(),
            visibility_timeout: Duration::from_secs(60),
            delay: Duration::ZERO,
            redrive: Some(("RegistrationsDeadLetterQueue".into(), 5)),
        })
    );
    assert!(queue("RegistrationsDeadLetterQueue").is_some());
    assert_eq!(
        topology.event_sources,
        [EventSource {
            queue: "RegistrationsQueue".into(),
            function: "orchestrator".into(),
            batch_size: 10,
            report_batch_item_failures: true,
        }]
    );
    let mut routes: Vec<(&str, &str, &str)> = topology
        .routes
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.function.as_str()))
        .collect();
    routes.sort_unstable();
    assert_eq!(
        routes,
        [
            ("GET", "/api/tickets", "payment"),
            ("POST", "/api/registrations", "payment")
        ]
    );
    assert_eq!(
        topology.cors.allow_origins,
        Vec::<String>::new(),
        "no SiteOrigin"
    );
    assert_eq!(
        topology.cors.allow_headers,
        ["content-type", "idempotency-key"]
    );
    assert_eq!(topology.cors.max_age, Some(600));

    let machine = &topology.state_machine;
    assert_eq!(machine.name, "RegistrationStateMachine");
    assert!(
        machine
            .definition
            .contains("arn:aws:lambda:us-east-1:000000000000:function:save-order")
    );
    assert!(
        !machine.definition.contains("${"),
        "every substitution made"
    );
}

#[test]
fn parameter_overrides_reach_what_uses_them() {
    let topology = repository_template()
        .topology(
            &[("SiteOrigin".into(), "http://localhost:8080".into())],
            BASE,
        )
        .expect("resolves");
    assert_eq!(topology.cors.allow_origins, ["http://localhost:8080"]);
}

#[test]
fn overrides_must_name_a_parameter_and_respect_its_constraints() {
    let template = repository_template();
    let refuse = |name: &str, value: &str| {
        template
            .topology(&[(name.into(), value.into())], BASE)
            .expect_err("refused")
    };
    let unknown = refuse("Nope", "x");
    assert!(unknown.message.contains("does not declare"), "{unknown}");
    let not_allowed = refuse("PayPalBaseUrl", "http://evil.example");
    assert_eq!(not_allowed.at, "Parameters.PayPalBaseUrl");
    assert!(
        not_allowed.message.contains("is not one of"),
        "{not_allowed}"
    );
    let short = refuse("PayPalClientId", "");
    assert!(short.message.contains("MinLength"), "{short}");
}

#[test]
fn globals_merge_under_each_function() {
    let (_dir, template) = template(&format!(
        "{MINIMAL}
  Tool:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      CodeUri: tool
      Environment:
        Variables:
          OWN: yes
Globals:
  Function:
    Timeout: 7
    MemorySize: 256
    Environment:
      Variables:
        SHARED: !Sub '${{AWS::Region}}-x'
"
    ));
    let topology = template.topology(&[], BASE).expect("resolves");
    let tool = topology.function("Tool").expect("named by its logical id");
    assert_eq!(tool.timeout, Duration::from_secs(7));
    assert_eq!(tool.memory_mb, 256);
    assert_eq!(tool.variable("SHARED"), Some(&Ok("us-east-1-x".into())));
    assert_eq!(tool.variable("OWN"), Some(&Ok("yes".into())));
    assert!(matches!(&tool.code, Code::Bootstrap(path) if path.ends_with("tool/bootstrap")));
}

#[test]
fn errors_name_the_resource_and_the_property() {
    let function = |properties: &str| {
        format!(
            "{MINIMAL}
  Tool:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: tool
{properties}"
        )
    };
    let timeout = error(
        &function("      Runtime: provided.al2023\n      Timeout: soon\n"),
        &[],
    );
    assert_eq!(timeout.at, "Resources.Tool.Properties.Timeout");
    assert!(timeout.message.contains("whole number"), "{timeout}");

    let route = error(
        &function(
            "      Runtime: provided.al2023
      Events:
        Root:
          Type: HttpApi
          Properties: {Method: GET, Path: /tickets}
",
        ),
        &[],
    );
    assert_eq!(
        route.at,
        "Resources.Tool.Properties.Events.Root.Properties.Path"
    );

    let missing_queue = error(
        &function(
            "      Runtime: provided.al2023
      Events:
        Jobs:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn}
",
        ),
        &[],
    );
    assert_eq!(
        missing_queue.at,
        "Resources.Tool.Properties.Events.Jobs.Properties.Queue"
    );
    assert!(
        missing_queue
            .message
            .contains("neither a parameter nor a resource")
    );

    let runtime = error(&function("      Runtime: python3.12\n"), &[]);
    assert_eq!(runtime.at, "Resources.Tool.Properties.Runtime");

    let log_format = error(
        &function(
            "      Runtime: provided.al2023\n      LoggingConfig:\n        LogFormat: Yaml\n",
        ),
        &[],
    );
    assert_eq!(
        log_format.at,
        "Resources.Tool.Properties.LoggingConfig.LogFormat"
    );

    let redrive = error(
        &format!(
            "{MINIMAL}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {{deadLetterTargetArn: arn:aws:sqs:us-east-1:000000000000:Gone, maxReceiveCount: 3}}
"
        ),
        &[],
    );
    assert!(redrive.at.ends_with("RedrivePolicy"), "{redrive}");
    assert!(redrive.message.contains("no queue Gone"), "{redrive}");

    let definition = error(
        "
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: nowhere.asl.json
",
        &[],
    );
    assert_eq!(definition.at, "Resources.Machine.Properties.DefinitionUri");

    let none = error("Resources: {Q: {Type: AWS::SQS::Queue}}", &[]);
    assert!(none.message.contains("exactly one"), "{none}");
}

#[test]
fn a_resource_whose_condition_is_false_does_not_exist() {
    let (_dir, template) = self::template(&format!(
        "Parameters:
  WithQueue: {{Type: String, Default: 'no'}}
Conditions:
  Wanted: !Equals [!Ref WithQueue, 'yes']
{MINIMAL}
  Extra:
    Type: AWS::SQS::Queue
    Condition: Wanted
"
    ));
    assert!(
        template
            .topology(&[], BASE)
            .expect("resolves")
            .queues
            .is_empty()
    );
    let wanted = template
        .topology(&[("WithQueue".into(), "yes".into())], BASE)
        .expect("resolves");
    assert_eq!(wanted.queues.len(), 1);
}

#[test]
fn routes_match_as_api_gateway_matches_them() {
    let route = |method: &str, path: &str| Route {
        method: method.into(),
        path: path.into(),
        function: "f".into(),
    };
    assert_eq!(
        route("GET", "/api/tickets").matches("GET", "/api/tickets"),
        Some(BTreeMap::new())
    );
    assert_eq!(
        route("GET", "/api/tickets").matches("POST", "/api/tickets"),
        None
    );
    assert_eq!(
        route("GET", "/api/tickets").matches("GET", "/api/tickets/1"),
        None
    );
    assert_eq!(
        route("ANY", "/api/orders/{id}").matches("DELETE", "/api/orders/42"),
        Some(BTreeMap::from([("id".into(), "42".into())]))
    );
    assert_eq!(
        route("GET", "/api/orders/{id}").matches("GET", "/api/orders/"),
        None
    );
    assert_eq!(
        route("GET", "/api/{proxy+}").matches("GET", "/api/a/b"),
        Some(BTreeMap::from([("proxy".into(), "a/b".into())]))
    );
}

#[test]
fn a_no_echo_override_is_never_repeated_in_an_error() {
    let (_dir, template) = template(&format!(
        "Parameters:
  Token: {{Type: String, NoEcho: true, MinLength: 40}}
{MINIMAL}"
    ));
    let error = template
        .topology(&[("Token".into(), "sk-live-secret".into())], BASE)
        .expect_err("too short");
    assert!(error.message.contains("MinLength"), "{error}");
    assert!(!error.to_string().contains("sk-live-secret"), "{error}");
}
