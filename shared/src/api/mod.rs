//! The REST API (the `api` function): a small router over plain `http`
//! requests, so Lambda (through `lambda_http`) and the local stack share it.

mod admin;
mod error;
mod push;
mod user;

use aws_lambda_events::http::{Method, Request, Response};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::auth::{AuthError, Identity};
pub use error::ApiError;

/// Largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a route answers: a status and a JSON body, or 204 with none.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: impl Serialize) -> Self {
        Self::with(200, body)
    }

    pub fn created(body: impl Serialize) -> Self {
        Self::with(201, body)
    }

    pub fn accepted(body: impl Serialize) -> Self {
        Self::with(202, body)
    }

    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
        }
    }

    fn with(status: u16, body: impl Serialize) -> Self {
        Self {
            status,
            body: Some(serde_json::to_value(body).expect("replies serialize")),
        }
    }
}

pub type Out = Result<Reply, ApiError>;

/// A route's handler: borrows the call for as long as it runs.
pub type Handler = for<'c, 'a> fn(&'c Call<'a>) -> BoxFuture<'c, Out>;

/// Turns an `async fn(&Call) -> Out` into a [`Handler`].
macro_rules! handler {
    ($f:path) => {{
        fn h<'c, 'a>(call: &'c Call<'a>) -> BoxFuture<'c, Out> {
            Box::pin($f(call))
        }
        h as Handler
    }};
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Anyone, no token: what a browser needs before it signs in.
    Public,
    /// Any user with a valid token, for their own data.
    User,
    /// Tokens with `role: "admin"`.
    Admin,
}

pub struct Route {
    pub method: Method,
    /// Segments in braces match any one non-empty segment.
    pub path: &'static str,
    pub role: Role,
    pub handler: Handler,
}

const fn route(method: Method, path: &'static str, role: Role, handler: Handler) -> Route {
    Route {
        method,
        path,
        role,
        handler,
    }
}

use Role::{Admin, Public, User};

/// Every route and what handles it, literal paths before parameterised
/// ones: adding a route is adding a line here (and to docs/openapi.yaml,
/// which a test holds to this table).
pub const ROUTES: &[Route] = &[
    route(Method::GET, "/notifications", User, handler!(user::list)),
    route(
        Method::GET,
        "/notifications/unread-count",
        User,
        handler!(user::unread_count),
    ),
    route(
        Method::PATCH,
        "/notifications/read-all",
        User,
        handler!(user::mark_all_read),
    ),
    route(
        Method::GET,
        "/notifications/{id}",
        User,
        handler!(user::get),
    ),
    route(
        Method::PATCH,
        "/notifications/{id}/read",
        User,
        handler!(user::mark_read),
    ),
    route(
        Method::DELETE,
        "/notifications/{id}",
        User,
        handler!(user::delete),
    ),
    route(
        Method::GET,
        "/notifications/{id}/deliveries",
        User,
        handler!(user::deliveries),
    ),
    route(
        Method::GET,
        "/preferences",
        User,
        handler!(user::get_preferences),
    ),
    route(
        Method::PUT,
        "/preferences",
        User,
        handler!(user::put_preferences),
    ),
    route(
        Method::PATCH,
        "/preferences",
        User,
        handler!(user::patch_preferences),
    ),
    route(
        Method::GET,
        "/push/vapid-public-key",
        Public,
        handler!(push::vapid_public_key),
    ),
    route(
        Method::POST,
        "/push/subscriptions",
        User,
        handler!(push::subscribe),
    ),
    route(
        Method::DELETE,
        "/push/subscriptions",
        User,
        handler!(push::unsubscribe),
    ),
    route(
        Method::POST,
        "/admin/notifications",
        Admin,
        handler!(admin::send),
    ),
    route(
        Method::GET,
        "/admin/templates",
        Admin,
        handler!(admin::list_templates),
    ),
    route(
        Method::PUT,
        "/admin/templates/{type}/{channel}",
        Admin,
        handler!(admin::put_template),
    ),
    route(
        Method::DELETE,
        "/admin/templates/{type}/{channel}",
        Admin,
        handler!(admin::delete_template),
    ),
    route(
        Method::POST,
        "/admin/templates/{type}/{channel}/preview",
        Admin,
        handler!(admin::preview_template),
    ),
    route(
        Method::GET,
        "/admin/notifications/{id}/deliveries",
        Admin,
        handler!(admin::deliveries),
    ),
    route(Method::GET, "/admin/stats", Admin, handler!(admin::stats)),
    route(
        Method::GET,
        "/admin/dead-letters",
        Admin,
        handler!(admin::dead_letters),
    ),
    route(
        Method::POST,
        "/admin/dead-letters/{queue}/redrive",
        Admin,
        handler!(admin::redrive),
    ),
];

fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if pat.len() != got.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, g) in pat.iter().zip(&got) {
        if p.starts_with('{') {
            if g.is_empty() {
                return None;
            }
            params.push(percent_decode(g));
        } else if p != g {
            return None;
        }
    }
    Some(params)
}

/// Decodes `%XX` escapes in one path segment (a `+` stays a `+`).
pub fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Finds the route for a request, or says why there is none (404 or 405).
pub fn find_route(method: &Method, path: &str) -> Result<(&'static Route, Vec<String>), ApiError> {
    let mut path_known = false;
    for r in ROUTES {
        if let Some(params) = matches(r.path, path) {
            if r.method == method {
                return Ok((r, params));
            }
            path_known = true;
        }
    }
    Err(if path_known {
        ApiError::MethodNotAllowed
    } else {
        ApiError::NotFound(format!("no route {path}"))
    })
}

/// What a route handler sees: the caller, path parameters, query and body.
pub struct Call<'a> {
    pub app: &'a App,
    pub who: Identity,
    pub params: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Call<'_> {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Handles one request end to end; never panics on client input.
pub async fn handle(app: &App, req: Request<Vec<u8>>) -> Response<String> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let result = dispatch(app, req).await;
    let (status, body) = match result {
        Ok(Reply { status, body }) => (status, body),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(%method, %path, error = %e, "request failed");
            }
            (e.status(), e.body())
        }
    };
    let mut resp = Response::builder().status(status);
    if status == 401 {
        resp = resp.header("www-authenticate", "Bearer");
    }
    match body {
        Some(b) => resp
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => resp.body(String::new()),
    }
    .expect("valid response parts")
}

async fn dispatch(app: &App, req: Request<Vec<u8>>) -> Out {
    let (route, params) = find_route(req.method(), req.uri().path())?;
    let body = req.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(body.len()));
    }
    let who = match route.role {
        Role::Public => Identity::anonymous(),
        _ => authenticate(app, &req)?,
    };
    if route.role == Role::Admin && !who.is_admin {
        return Err(ApiError::Forbidden);
    }
    let query = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let call = Call {
        app,
        who,
        params,
        query,
        body,
    };
    (route.handler)(&call).await
}

fn authenticate(app: &App, req: &Request<Vec<u8>>) -> Result<Identity, ApiError> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let token = header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .ok_or(ApiError::Unauthorized(AuthError::Missing.to_string()))?;
    let verifier = app
        .verifier
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("no JWT key is configured".into()))?;
    verifier
        .verify(token)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_routes_win_over_parameters() {
        let (r, p) = find_route(&Method::GET, "/notifications/unread-count").unwrap();
        assert_eq!(r.path, "/notifications/unread-count");
        assert!(p.is_empty());
        let (r, p) = find_route(&Method::GET, "/notifications/01JABC").unwrap();
        assert_eq!(r.path, "/notifications/{id}");
        assert_eq!(p, ["01JABC"]);
        let (r, p) = find_route(&Method::PUT, "/admin/templates/order.created/in_app").unwrap();
        assert_eq!(
            (r.path, r.role),
            ("/admin/templates/{type}/{channel}", Role::Admin)
        );
        assert_eq!(p, ["order.created", "in_app"]);
    }

    #[test]
    fn unknown_paths_and_methods() {
        assert!(matches!(
            find_route(&Method::GET, "/nope"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            find_route(&Method::POST, "/notifications"),
            Err(ApiError::MethodNotAllowed)
        ));
        assert!(matches!(
            find_route(&Method::GET, "/notifications//read"),
            Err(ApiError::NotFound(_))
        ));
    }
}
