//! Integration tests: the real app over real HTTP, each test with a fresh PostgreSQL database.

mod access;
mod agents;
mod architecture;
mod bounded;
mod connections;
mod helpers;
mod hostile_forms;
mod integrity;
mod signin;
mod startup;
mod testing;
