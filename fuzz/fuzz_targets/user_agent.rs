//! The User-Agent a session keeps (`auth.listSessions` shows it): any bytes a client sends
//! come out as at most 256 characters with no control or invisible formatting character,
//! or as nothing.
#![no_main]

use gateway_wire::{MAX_USER_AGENT_CHARS, clean_user_agent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(kept) = clean_user_agent(data) {
        assert!(!kept.is_empty());
        assert!(kept.chars().count() <= MAX_USER_AGENT_CHARS, "{} characters kept", kept.chars().count());
        assert!(!kept.chars().any(char::is_control), "a control character kept: {kept:?}");
        assert!(!kept.starts_with(' ') && !kept.contains("  "), "spaces not collapsed: {kept:?}");
        assert_eq!(clean_user_agent(kept.as_bytes()).as_deref(), Some(kept.as_str()), "cleaning twice changes it");
    }
});
