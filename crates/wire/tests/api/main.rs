//! The wire layer over HTTP: a small test router (see `helpers.rs`) served through the
//! tRPC and REST surfaces, in process and on a real listener.

mod helpers;

mod rest;
mod streaming;
mod trpc;
