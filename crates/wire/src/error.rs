//! The one error value every surface renders: a tRPC code, a message, optional
//! validation issues, and an internal cause that only ever reaches the logs.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// tRPC error codes with their JSON-RPC number and HTTP status (tRPC's `codes.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ParseError,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotSupported,
    Timeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableContent,
    TooManyRequests,
    InternalServerError,
    NotImplemented,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        Self::ParseError,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotSupported,
        Self::Timeout,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::UnprocessableContent,
        Self::TooManyRequests,
        Self::InternalServerError,
        Self::NotImplemented,
        Self::BadGateway,
        Self::ServiceUnavailable,
        Self::GatewayTimeout,
    ];

    /// (key, JSON-RPC code, HTTP status)
    const fn table(self) -> (&'static str, i32, u16) {
        match self {
            Self::ParseError => ("PARSE_ERROR", -32700, 400),
            Self::BadRequest => ("BAD_REQUEST", -32600, 400),
            Self::Unauthorized => ("UNAUTHORIZED", -32001, 401),
            Self::Forbidden => ("FORBIDDEN", -32003, 403),
            Self::NotFound => ("NOT_FOUND", -32004, 404),
            Self::MethodNotSupported => ("METHOD_NOT_SUPPORTED", -32005, 405),
            Self::Timeout => ("TIMEOUT", -32008, 408),
            Self::Conflict => ("CONFLICT", -32009, 409),
            Self::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", -32013, 413),
            Self::UnsupportedMediaType => ("UNSUPPORTED_MEDIA_TYPE", -32015, 415),
            Self::UnprocessableContent => ("UNPROCESSABLE_CONTENT", -32022, 422),
            Self::TooManyRequests => ("TOO_MANY_REQUESTS", -32029, 429),
            Self::InternalServerError => ("INTERNAL_SERVER_ERROR", -32603, 500),
            Self::NotImplemented => ("NOT_IMPLEMENTED", -32603, 501),
            Self::BadGateway => ("BAD_GATEWAY", -32603, 502),
            Self::ServiceUnavailable => ("SERVICE_UNAVAILABLE", -32603, 503),
            Self::GatewayTimeout => ("GATEWAY_TIMEOUT", -32603, 504),
        }
    }

    pub const fn key(self) -> &'static str {
        self.table().0
    }
    pub const fn json_rpc(self) -> i32 {
        self.table().1
    }
    pub const fn http_status(self) -> u16 {
        self.table().2
    }
}

/// One input-validation problem, as clients read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub message: String,
    pub path: Vec<String>,
    pub code: String,
}

/// The message clients see for every input-validation failure.
pub const VALIDATION_FAILED: &str = "Input validation failed";

#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: ErrorCode,
    pub message: String,
    pub issues: Vec<Issue>,
    /// Seconds the client should wait (`Retry-After`), for throttled calls.
    pub retry_after: Option<u64>,
    /// What went wrong inside; logged with the request id, never sent.
    cause: Option<String>,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), issues: Vec::new(), retry_after: None, cause: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Unauthorized")
    }
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "Forbidden")
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(ErrorCode::TooManyRequests, "Too many attempts, try again later");
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }
    /// A failure inside the server: the client gets a generic message, the log gets `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InternalServerError, "Internal server error").with_cause(cause)
    }
    /// A dependency (the database) is out of reach: clients may retry.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, "Service temporarily unavailable").with_cause(cause)
    }
    pub fn validation(issues: Vec<Issue>) -> Self {
        let mut e = Self::new(ErrorCode::BadRequest, VALIDATION_FAILED);
        e.issues = issues;
        e
    }
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// Body of the OpenAPI surface: `{message, code, issues?}`.
    pub fn rest_body(&self) -> Value {
        let mut body = json!({ "message": self.message, "code": self.code.key() });
        if !self.issues.is_empty() {
            body["issues"] = json!(self.issues);
        }
        body
    }

    /// tRPC error shape: `{message, code, data: {code, httpStatus, path, issues?, zodError}}`.
    /// `zodError` is the flattened form Dokploy's forms read.
    pub fn trpc_shape(&self, path: Option<&str>) -> Value {
        let mut data = json!({
            "code": self.code.key(),
            "httpStatus": self.http_status(),
            "path": path,
            "zodError": Value::Null,
        });
        if !self.issues.is_empty() {
            data["issues"] = json!(self.issues);
            data["zodError"] = self.flattened_issues();
        }
        json!({ "message": self.message, "code": self.code.json_rpc(), "data": data })
    }

    fn flattened_issues(&self) -> Value {
        let mut form_errors = Vec::new();
        let mut field_errors = Map::new();
        for issue in &self.issues {
            match issue.path.first() {
                None => form_errors.push(Value::String(issue.message.clone())),
                Some(field) => field_errors
                    .entry(field.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .expect("inserted as array")
                    .push(Value::String(issue.message.clone())),
            }
        }
        json!({ "formErrors": form_errors, "fieldErrors": field_errors })
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.key(), self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RpcError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_trpc_table() {
        assert_eq!(ErrorCode::ParseError.json_rpc(), -32700);
        assert_eq!(ErrorCode::TooManyRequests.http_status(), 429);
        assert_eq!(ErrorCode::ServiceUnavailable.json_rpc(), -32603);
        assert_eq!(ErrorCode::ServiceUnavailable.http_status(), 503);
        assert_eq!(ErrorCode::UnsupportedMediaType.key(), "UNSUPPORTED_MEDIA_TYPE");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = RpcError::internal("relation \"auth\" does not exist");
        let rendered = format!("{} {}", e.rest_body(), e.trpc_shape(Some("auth.get")));
        assert!(!rendered.contains("relation"));
        assert_eq!(e.rest_body()["message"], "Internal server error");
    }

    #[test]
    fn validation_errors_carry_issues_and_a_flattened_form() {
        let e = RpcError::validation(vec![Issue {
            message: "not a valid email".into(),
            path: vec!["email".into()],
            code: "invalid_string".into(),
        }]);
        let shape = e.trpc_shape(Some("auth.login"));
        assert_eq!(shape["code"], -32600);
        assert_eq!(shape["data"]["httpStatus"], 400);
        assert_eq!(shape["data"]["path"], "auth.login");
        assert_eq!(shape["data"]["issues"][0]["path"][0], "email");
        assert_eq!(shape["data"]["zodError"]["fieldErrors"]["email"][0], "not a valid email");
        assert_eq!(e.rest_body()["message"], VALIDATION_FAILED);
    }
}
