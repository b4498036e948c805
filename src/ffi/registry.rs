//! Live clients, by the address of their `ClipsClient`. Exports never dereference a `ClipsClient *`:
//! they look it up here, so a NULL, destroyed or foreign pointer is an error instead of undefined
//! behaviour, and a call racing `clips_client_destroy` holds its own reference to the client.

use std::collections::HashMap;
use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::RwLock;

use crate::error::{Error, ErrorKind};
use crate::Client;

use super::types::ClipsClient;

static CLIENTS: Lazy<RwLock<HashMap<usize, Arc<Client>>>> = Lazy::new(Default::default);

pub fn register(client: Client) -> *mut ClipsClient {
    let token = Box::into_raw(Box::new(ClipsClient { _private: 0 }));
    CLIENTS.write().insert(token as usize, Arc::new(client));
    token
}

pub fn lookup(token: *const ClipsClient) -> Result<Arc<Client>, Error> {
    if token.is_null() {
        return Err(Error::invalid("client is NULL"));
    }
    CLIENTS
        .read()
        .get(&(token as usize))
        .cloned()
        .ok_or_else(|| Error::new(ErrorKind::Shutdown, "client is not a live ClipsClient (already destroyed?)"))
}

/// Takes the client out of the registry; later lookups of `token` fail.
pub fn unregister(token: *mut ClipsClient) -> Option<Arc<Client>> {
    let client = CLIENTS.write().remove(&(token as usize))?;
    // SAFETY: the token was registered, so it came from Box::into_raw in `register` and is freed once.
    drop(unsafe { Box::from_raw(token) });
    Some(client)
}
