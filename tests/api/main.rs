//! Integration tests: the real app over real HTTP, each test with a fresh PostgreSQL database.

mod access;
mod agents;
mod architecture;
mod connections;
mod credentials;
mod helpers;
mod integrity;
mod second_connector;
mod signin;
mod startup;
mod testing;
