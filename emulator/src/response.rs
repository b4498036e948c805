//! The answers handlers build: JSON, empty, and the service's error document.

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::body::ResponseBody;
use crate::wire::service_error;

pub type HttpResponse = Response<ResponseBody>;

pub fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = Response::new(ResponseBody::whole(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn empty_response(status: StatusCode) -> HttpResponse {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

pub fn error(status: StatusCode, message: &str) -> HttpResponse {
    json_response(status, &service_error(status.as_u16() as i32, message))
}

pub fn not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "no such clip")
}
