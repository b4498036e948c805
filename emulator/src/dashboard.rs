//! The dashboard's three files, built into the binary (`emulator/dashboard/`): nothing is fetched from
//! the network and no JavaScript toolchain is needed.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::Response;

use crate::body::ResponseBody;
use crate::response::HttpResponse;

/// The dashboard's files: name, content type, text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../dashboard/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../dashboard/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../dashboard/app.css")),
];

/// Only this origin: the page loads nothing from anywhere else.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'";

/// The dashboard's own name for a file it has.
pub fn known_asset(name: &str) -> Option<&'static str> {
    ASSETS.iter().find(|(known, ..)| *known == name).map(|(known, ..)| *known)
}

pub fn asset(name: &str) -> HttpResponse {
    let (_, content_type, text) =
        ASSETS.iter().find(|(known, ..)| *known == name).expect("parse finds only known files");
    let mut response = Response::new(ResponseBody::whole(*text));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("content-security-policy", HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
}
