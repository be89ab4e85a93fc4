//! The backup-client face matches paths without regard to case (Commvault's documents and
//! clients use `Client` and `client`, `Login` and `login`). Routing is case-sensitive, so this
//! runs before it, on the whole application: under `/commandcenter/api` and `/webconsole/api`
//! the path (not the query) is lower-cased; other faces are untouched.

use axum::http::{Request, Uri};

use crate::face::Face;

pub fn lowercase_backup_client_paths<B>(mut req: Request<B>) -> Request<B> {
    let path = req.uri().path();
    let lower = path.to_ascii_lowercase();
    if lower == path
        || !Face::BackupClient
            .base_paths()
            .iter()
            .any(|r| lower.starts_with(r))
    {
        return req;
    }
    let rebuilt = match req.uri().query() {
        Some(q) => format!("{lower}?{q}"),
        None => lower,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = rebuilt.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backup_client_paths_change() {
        let r = lowercase_backup_client_paths(Request::new(()).map(|_| ()));
        assert_eq!(r.uri().path(), "/");
        let mut r = Request::new(());
        *r.uri_mut() = "/CommandCenter/API/Client/7/Passkey?X=Y".parse().unwrap();
        let r = lowercase_backup_client_paths(r);
        assert_eq!(r.uri().path(), "/commandcenter/api/client/7/passkey");
        assert_eq!(r.uri().query(), Some("X=Y"));
        let mut r = Request::new(());
        *r.uri_mut() = "/api/v1/users/Alice".parse().unwrap();
        assert_eq!(
            lowercase_backup_client_paths(r).uri().path(),
            "/api/v1/users/Alice"
        );
    }
}
