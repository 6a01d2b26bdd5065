//! Templates of the Agents page.

use askama::Template;
use uuid::Uuid;

use super::model::AgentUsage;
use crate::views::Layout;

#[derive(Template)]
#[template(path = "agents/list.html")]
pub(crate) struct AgentsPage<'a> {
    pub layout: Layout,
    pub agents: Vec<AgentUsage>,
    /// The name typed into "New agent", kept when it was refused.
    pub new_name: &'a str,
    pub new_name_error: Option<String>,
}

#[derive(Template)]
#[template(path = "agents/form.html")]
pub(crate) struct AgentFormPage<'a> {
    pub layout: Layout,
    pub id: Uuid,
    pub name: &'a str,
    pub connections: i64,
    pub error: Option<String>,
}
