//! Templates of the Agents page.

use std::time::Duration;

use askama::Template;
use uuid::Uuid;

use super::model::AgentUsage;
use crate::views::{Layout, format_time};

/// One agent as the pages show it.
pub(crate) struct AgentRow {
    pub id: Uuid,
    pub name: String,
    pub is_builtin: bool,
    pub is_active: bool,
    pub online: bool,
    /// It has never said hello (a new agent not started yet).
    pub never_seen: bool,
    /// "2 minutes ago (1 Dec 2026 23:50 UTC)", or "Never".
    pub last_seen: String,
    pub version: String,
    pub hostname: String,
    pub address: String,
    /// When its current registration token was made.
    pub token_created: String,
    pub connections: i64,
}

impl AgentRow {
    pub(crate) fn new(usage: AgentUsage, offline_after: Duration) -> Self {
        let agent = usage.agent;
        let dash = |value: Option<String>| value.unwrap_or_else(|| "—".into());
        Self {
            online: agent.is_active && agent.is_online(offline_after),
            never_seen: !agent.is_builtin && agent.last_seen_at.is_none(),
            last_seen: match (agent.is_builtin, agent.last_seen_at) {
                (true, _) => "—".into(),
                (false, Some(at)) => {
                    format!("{} ({})", crate::jobs::service::ago(at), format_time(&at))
                }
                (false, None) => "Never".into(),
            },
            version: if agent.is_builtin {
                env!("CARGO_PKG_VERSION").to_string()
            } else {
                dash(agent.agent_version)
            },
            hostname: dash(agent.hostname),
            address: dash(agent.remote_addr),
            token_created: dash(agent.token_created_at.as_ref().map(format_time)),
            id: agent.id,
            name: agent.name,
            is_builtin: agent.is_builtin,
            is_active: agent.is_active,
            connections: usage.connections,
        }
    }

    /// "Online", "Offline", "Not started yet" or "Deactivated", with its chip colour.
    pub(crate) fn status(&self) -> (&'static str, &'static str) {
        match (self.is_active, self.online, self.never_seen) {
            (false, _, _) => ("chip-muted", "Deactivated"),
            (true, true, _) => ("chip-ok", "Online"),
            // Not a failure: it has not been started with its token yet.
            (true, false, true) => ("chip-muted", "Not started yet"),
            (true, false, false) => ("chip-bad", "Offline"),
        }
    }
}

#[derive(Template)]
#[template(path = "agents/list.html")]
pub(crate) struct AgentsPage<'a> {
    pub layout: Layout,
    pub agents: Vec<AgentRow>,
    /// The name typed into "New agent", kept when it was refused.
    pub new_name: &'a str,
    pub new_name_error: Option<String>,
}

#[derive(Template)]
#[template(path = "agents/form.html")]
pub(crate) struct AgentFormPage {
    pub layout: Layout,
    pub row: AgentRow,
    /// The name in the box (as typed, when it was refused).
    pub name: String,
    /// (id, name, is active, is deleted) of each connection on the agent.
    pub connections: Vec<(Uuid, String, bool, bool)>,
    pub error: Option<String>,
}

/// The registration token, shown once after creating the agent or rotating its token.
#[derive(Template)]
#[template(path = "agents/token.html")]
pub(crate) struct AgentTokenPage {
    pub layout: Layout,
    pub id: Uuid,
    pub name: String,
    pub token: String,
    /// This server's address, for the command line.
    pub server: String,
    /// Just created (else: token rotated).
    pub created: bool,
}
