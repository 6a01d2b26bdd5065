//! Integration tests: the real app over real HTTP, each test with a fresh PostgreSQL database.

mod access;
mod agents;
mod connections;
mod helpers;
mod startup;
mod testing;
