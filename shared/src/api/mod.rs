//! The REST API (the `api` function): a small router over plain `http`
//! requests, so Lambda (through `lambda_http`) and the local stack share it.

mod admin;
mod error;
mod user;

use aws_lambda_events::http::{Method, Request, Response};
use serde_json::Value;

use crate::app::App;
use crate::auth::{AuthError, Identity};
pub use error::ApiError;

/// Largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteId {
    ListNotifications,
    UnreadCount,
    MarkAllRead,
    GetNotification,
    MarkRead,
    DeleteNotification,
    GetPreferences,
    PutPreferences,
    PatchPreferences,
    AdminSend,
    ListTemplates,
    PutTemplate,
    DeleteTemplate,
    PreviewTemplate,
    Stats,
    DeadLetters,
    Redrive,
}

pub struct Route {
    pub method: Method,
    /// Segments in braces match any one non-empty segment.
    pub path: &'static str,
    pub id: RouteId,
    pub admin: bool,
}

const fn route(method: Method, path: &'static str, id: RouteId, admin: bool) -> Route {
    Route {
        method,
        path,
        id,
        admin,
    }
}

/// Every route, literal paths before parameterised ones. `docs/openapi.yaml`
/// must list exactly these (a test holds them together).
pub const ROUTES: &[Route] = &[
    route(
        Method::GET,
        "/notifications",
        RouteId::ListNotifications,
        false,
    ),
    route(
        Method::GET,
        "/notifications/unread-count",
        RouteId::UnreadCount,
        false,
    ),
    route(
        Method::PATCH,
        "/notifications/read-all",
        RouteId::MarkAllRead,
        false,
    ),
    route(
        Method::GET,
        "/notifications/{id}",
        RouteId::GetNotification,
        false,
    ),
    route(
        Method::PATCH,
        "/notifications/{id}/read",
        RouteId::MarkRead,
        false,
    ),
    route(
        Method::DELETE,
        "/notifications/{id}",
        RouteId::DeleteNotification,
        false,
    ),
    route(Method::GET, "/preferences", RouteId::GetPreferences, false),
    route(Method::PUT, "/preferences", RouteId::PutPreferences, false),
    route(
        Method::PATCH,
        "/preferences",
        RouteId::PatchPreferences,
        false,
    ),
    route(
        Method::POST,
        "/admin/notifications",
        RouteId::AdminSend,
        true,
    ),
    route(
        Method::GET,
        "/admin/templates",
        RouteId::ListTemplates,
        true,
    ),
    route(
        Method::PUT,
        "/admin/templates/{type}/{channel}",
        RouteId::PutTemplate,
        true,
    ),
    route(
        Method::DELETE,
        "/admin/templates/{type}/{channel}",
        RouteId::DeleteTemplate,
        true,
    ),
    route(
        Method::POST,
        "/admin/templates/{type}/{channel}/preview",
        RouteId::PreviewTemplate,
        true,
    ),
    route(Method::GET, "/admin/stats", RouteId::Stats, true),
    route(
        Method::GET,
        "/admin/dead-letters",
        RouteId::DeadLetters,
        true,
    ),
    route(
        Method::POST,
        "/admin/dead-letters/{queue}/redrive",
        RouteId::Redrive,
        true,
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
        Ok((status, body)) => (status, body),
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

async fn dispatch(app: &App, req: Request<Vec<u8>>) -> Result<(u16, Option<Value>), ApiError> {
    let (route, params) = find_route(req.method(), req.uri().path())?;
    let body = req.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(body.len()));
    }
    let who = authenticate(app, &req)?;
    if route.admin && !who.is_admin {
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
    match route.id {
        RouteId::ListNotifications => user::list(&call).await,
        RouteId::UnreadCount => user::unread_count(&call).await,
        RouteId::MarkAllRead => user::mark_all_read(&call).await,
        RouteId::GetNotification => user::get(&call).await,
        RouteId::MarkRead => user::mark_read(&call).await,
        RouteId::DeleteNotification => user::delete(&call).await,
        RouteId::GetPreferences => user::get_preferences(&call).await,
        RouteId::PutPreferences => user::put_preferences(&call).await,
        RouteId::PatchPreferences => user::patch_preferences(&call).await,
        RouteId::AdminSend => admin::send(&call).await,
        RouteId::ListTemplates => admin::list_templates(&call).await,
        RouteId::PutTemplate => admin::put_template(&call).await,
        RouteId::DeleteTemplate => admin::delete_template(&call).await,
        RouteId::PreviewTemplate => admin::preview_template(&call).await,
        RouteId::Stats => admin::stats(&call).await,
        RouteId::DeadLetters => admin::dead_letters(&call).await,
        RouteId::Redrive => admin::redrive(&call).await,
    }
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
        assert_eq!(r.id, RouteId::UnreadCount);
        assert!(p.is_empty());
        let (r, p) = find_route(&Method::GET, "/notifications/01JABC").unwrap();
        assert_eq!(r.id, RouteId::GetNotification);
        assert_eq!(p, ["01JABC"]);
        let (r, p) = find_route(&Method::PUT, "/admin/templates/order.created/in_app").unwrap();
        assert_eq!(r.id, RouteId::PutTemplate);
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
