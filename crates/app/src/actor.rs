//! Who issues a command: recorded in every event's metadata.

use std::fmt;

use passerelle_domain::values::{EmployerId, PersonId, StructureId, UserId};

/// The role an actor acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Manager,
    Mediator,
    /// An employer's contact, through a magic link scoped to one
    /// establishment.
    Employer(EmployerId),
    /// A person accompanied, through a magic link scoped to their own
    /// immersions.
    Person(PersonId),
    /// A scheduled job or another component of the service.
    System,
}

impl Role {
    /// As stored in the events' `role` column.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Mediator => "mediator",
            Role::Employer(_) => "employer",
            Role::Person(_) => "person",
            Role::System => "system",
        }
    }
}

/// The actor of a command: who, in which role, for which structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user:<id>`, `employer:<id>`, `person:<id>` or `system:<component>`.
    pub id: String,
    pub role: Role,
    /// The structure (tenant) the command is issued for.
    pub structure: StructureId,
}

impl Actor {
    pub fn user(user: UserId, role: Role, structure: StructureId) -> Self {
        Self {
            id: format!("user:{user}"),
            role,
            structure,
        }
    }

    pub fn system(component: &str, structure: StructureId) -> Self {
        Self {
            id: format!("system:{component}"),
            role: Role::System,
            structure,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.role.as_str())
    }
}
