//! The workspace's function packages by name: the five Lambda functions' and the Azure Function
//! App's, as `template.yaml`'s `rust-cargolambda` functions and `infra/azure` name them.

/// One of the workspace's five function packages; each has one binary of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionCrate {
    Payment,
    Orchestrator,
    SaveOrder,
    Email,
    MailingList,
}

impl FunctionCrate {
    /// Every function, in the order of the flow.
    pub const ALL: [Self; 5] = [
        Self::Payment,
        Self::Orchestrator,
        Self::SaveOrder,
        Self::Email,
        Self::MailingList,
    ];

    /// The package's name, which is also its binary's.
    pub fn binary(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Orchestrator => "orchestrator",
            Self::SaveOrder => "save-order",
            Self::Email => "email",
            Self::MailingList => "mailing-list",
        }
    }

    /// The function whose binary is `name`, if it is one of the workspace's.
    pub fn from_binary(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|function| function.binary() == name)
    }
}

/// The Azure Function App's package and its one binary, the custom handler.
pub const AZURE_HANDLER: (&str, &str) = ("azure-app", "handler");
