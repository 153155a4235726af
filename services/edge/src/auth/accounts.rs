//! Standalone mode's users and sessions, event-sourced like the rest of the fleet: one
//! `user-<id>` stream per user and one `session-<family>` stream per login. A session's refresh
//! tokens rotate: each refresh appends the id of the one token that may be used next, so a
//! token used twice is seen at once, and the whole family is revoked (RFC 9700 §4.14.2).
//!
//! Password hashes (bcrypt) are kept in the `users` read model only, never in the published
//! log. Unknown email and wrong password answer the same 401, after the same bcrypt work.

use super::{append_event, store_error};
use chrono::{DateTime, Utc};
use comms_auth::tokens::TokenKind;
use comms_auth::{Identity, Role, Tokens};
use comms_events::account::{
    RevokedBecause, SessionEvent, SessionRefreshed, SessionRevoked, SessionStarted, UserCreated,
    UserEvent,
};
use comms_eventstore::unit_of_work::api_error;
use comms_eventstore::{EventStore, ExpectedVersion, StreamName, in_transaction, read_stream_in};
use comms_proto::{ApiError, ErrorKind, Violations};
use sqlx::PgConnection;
use uuid::Uuid;

const USER_STREAMS: &str = "user";
const SESSION_STREAMS: &str = "session";
const MIN_PASSWORD_CHARS: usize = 12;
/// Passphrases may be long: bcrypt is given their SHA-256 (64 hex digits), so nothing past its
/// 72-byte limit is silently cut, and the limit is in characters, as users count.
const MAX_PASSWORD_CHARS: usize = 256;
/// Marks a hash of the password's SHA-256; hashes without it (from before) are of the password.
const PREHASHED: &str = "sha256:";
const MAX_EMAIL: usize = 254;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub user_id: Uuid,
    pub org_id: String,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn identity(&self) -> Result<Identity, ApiError> {
        let role = Role::parse(&self.role).ok_or_else(ApiError::internal)?;
        Identity::new(&self.org_id, &self.user_id.to_string(), role)
    }
}

pub struct NewUser {
    pub email: String,
    pub password: String,
    pub role: String,
}

#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

pub struct Accounts {
    store: EventStore,
    tokens: Tokens,
    bcrypt_cost: u32,
    /// Checked against when the email is unknown, so both failures cost the same time. Made on
    /// the first login rather than at start-up, where a bcrypt hash would delay readiness.
    dummy_hash: tokio::sync::OnceCell<String>,
}

fn invalid_login() -> ApiError {
    ApiError::new(ErrorKind::Unauthenticated, "invalid email or password")
}

async fn bcrypt_hash(password: String, cost: u32) -> Result<String, ApiError> {
    let prehashed = comms_auth::platform::body_sha256(password.as_bytes());
    tokio::task::spawn_blocking(move || bcrypt::hash(prehashed, cost))
        .await
        .map_err(store_error)?
        .map(|hash| format!("{PREHASHED}{hash}"))
        .map_err(store_error)
}

async fn bcrypt_verify(password: String, hash: String) -> bool {
    let (input, hash) = match hash.strip_prefix(PREHASHED) {
        Some(hash) => (
            comms_auth::platform::body_sha256(password.as_bytes()),
            hash.to_owned(),
        ),
        None => (password, hash),
    };
    tokio::task::spawn_blocking(move || bcrypt::verify(input, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// An address with one `@`, a local part and a dotted domain, no spaces or control characters.
pub fn check_email(email: &str) -> Result<(), String> {
    let valid = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && domain
                    .split('.')
                    .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        });
    if valid {
        Ok(())
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(format!("at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Session {
    user_id: Uuid,
    /// The one refresh token that may be used next.
    current: Uuid,
    revoked: bool,
}

impl Accounts {
    pub fn new(store: EventStore, tokens: Tokens, bcrypt_cost: u32) -> Self {
        Self {
            store,
            tokens,
            bcrypt_cost,
            dummy_hash: tokio::sync::OnceCell::new(),
        }
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Creates a user in `org_id`; `actor` is who asked. Every bad field is named.
    pub async fn create_user(
        &self,
        org_id: &str,
        actor: &str,
        new: NewUser,
    ) -> Result<User, ApiError> {
        let mut violations = Violations::default();
        violations.check("email", check_email(&new.email));
        violations.check("password", check_password(&new.password));
        let role = violations.check(
            "role",
            Role::parse(&new.role)
                .ok_or_else(|| format!("{:?} is not admin, supervisor or agent", new.role)),
        );
        violations.finish()?;
        let role = role.expect("validated");
        let hash = bcrypt_hash(new.password, self.bcrypt_cost).await?;
        let user = User {
            user_id: Uuid::new_v4(),
            org_id: org_id.to_owned(),
            email: new.email,
            role: role.as_str().to_owned(),
            created_at: Utc::now(),
        };
        let created = UserEvent::Created(UserCreated {
            user_id: user.user_id,
            email: user.email.clone(),
            role,
            created_at: user.created_at,
        });
        in_transaction!(self.store, |tx| {
            let stream = StreamName::new(USER_STREAMS, user.user_id);
            append_event(
                tx,
                org_id,
                actor,
                &stream,
                ExpectedVersion::NoStream,
                &created,
            )
            .await?;
            let inserted = sqlx::query(
                "INSERT INTO users (user_id, org_id, email, role, password_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user.user_id)
            .bind(&user.org_id)
            .bind(&user.email)
            .bind(&user.role)
            .bind(&hash)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(ApiError::new(
                    ErrorKind::AlreadyExists,
                    "a user with this email already exists",
                )),
                Err(e) => Err(api_error(e)),
            }
        })?;
        Ok(user)
    }

    /// Creates the first administrator unless a user with that email exists; true if created.
    pub async fn ensure_admin(
        &self,
        org_id: &str,
        email: &str,
        password: &str,
    ) -> Result<bool, ApiError> {
        if self.find_by_email(email).await?.is_some() {
            return Ok(false);
        }
        let new = NewUser {
            email: email.to_owned(),
            password: password.to_owned(),
            role: "admin".into(),
        };
        match self.create_user(org_id, "system:bootstrap", new).await {
            Ok(_) => Ok(true),
            // Another instance created it first.
            Err(e) if e.kind == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn get(&self, org_id: &str, user_id: Uuid) -> Result<User, ApiError> {
        sqlx::query_as("SELECT user_id, org_id, email, role, created_at FROM users WHERE user_id = $1 AND org_id = $2")
            .bind(user_id)
            .bind(org_id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found("user", &user_id.to_string()))
    }

    pub async fn list(&self, org_id: &str) -> Result<Vec<User>, ApiError> {
        sqlx::query_as(
            "SELECT user_id, org_id, email, role, created_at FROM users WHERE org_id = $1
             ORDER BY created_at, user_id LIMIT 1000",
        )
        .bind(org_id)
        .fetch_all(self.store.pool())
        .await
        .map_err(store_error)
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<(User, String)>, ApiError> {
        let row: Option<(Uuid, String, String, String, DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT user_id, org_id, email, role, created_at, password_hash FROM users WHERE lower(email) = lower($1)",
        )
        .bind(email)
        .fetch_optional(self.store.pool())
        .await
        .map_err(store_error)?;
        Ok(row.map(|(user_id, org_id, email, role, created_at, hash)| {
            (
                User {
                    user_id,
                    org_id,
                    email,
                    role,
                    created_at,
                },
                hash,
            )
        }))
    }

    /// Checks the password and starts a session: a new refresh-token family.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ApiError> {
        let found = self.find_by_email(email).await?;
        let hash = match &found {
            Some((_, hash)) => hash.clone(),
            None => self
                .dummy_hash
                .get_or_try_init(|| bcrypt_hash(Uuid::new_v4().to_string(), self.bcrypt_cost))
                .await?
                .clone(),
        };
        let matches = bcrypt_verify(password.to_owned(), hash).await;
        let Some((user, _)) = found.filter(|_| matches) else {
            return Err(invalid_login());
        };
        let identity = user.identity()?;
        let (family, token_id) = (Uuid::new_v4(), Uuid::new_v4());
        let pair = self.issue(&identity, family, token_id)?;
        let started = SessionEvent::Started(SessionStarted {
            session_id: family,
            user_id: user.user_id,
            token_id,
        });
        let event = comms_bus::new_event(&started, &identity.user_id, None);
        self.store
            .append(
                &user.org_id,
                &StreamName::new(SESSION_STREAMS, family),
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await
            .map_err(store_error)?;
        Ok(pair)
    }

    /// Exchanges a refresh token for a new pair. A token that is not the session's current
    /// one was used before: the session is revoked and its newest token dies with it.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ApiError> {
        let claims = self.tokens.verify(refresh_token, &[TokenKind::Refresh])?;
        let (family, token_id) = refresh_ids(&claims)?;
        let stream = StreamName::new(SESSION_STREAMS, family);
        let org = claims.org.as_str();
        // A concurrent refresh that wins makes this one start again, and read this token as used.
        let refreshed = in_transaction!(self.store, |tx| {
            let (session, version) = load_session(&mut *tx, org, &stream).await?;
            if session.revoked {
                return Err(ApiError::new(
                    ErrorKind::Unauthenticated,
                    "this session has ended; log in again",
                ));
            }
            if session.current != token_id {
                // The edge ends it: whoever presented the used token may not be the user.
                let reason = RevokedBecause::RefreshTokenReused;
                revoke(&mut *tx, org, "system:edge", &stream, reason).await?;
                return Ok(Err(session.user_id));
            }
            let user = self
                .get(org, session.user_id)
                .await
                .map_err(|_| invalid_login())?;
            let identity = user.identity()?;
            let next = Uuid::new_v4();
            let refreshed = SessionEvent::Refreshed(SessionRefreshed {
                session_id: family,
                token_id: next,
                previous_token_id: token_id,
            });
            append_event(tx, org, &identity.user_id, &stream, version, &refreshed).await?;
            Ok(Ok((identity, next)))
        })?;
        match refreshed {
            Ok((identity, next)) => self.issue(&identity, family, next),
            Err(user) => {
                tracing::warn!(session = %family, %user, "refresh token reuse detected; session revoked");
                Err(ApiError::new(
                    ErrorKind::Unauthenticated,
                    "this refresh token was already used; the session is revoked, log in again",
                ))
            }
        }
    }

    /// Ends the session the refresh token belongs to. Ending an ended session is no error.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), ApiError> {
        let claims = self.tokens.verify(refresh_token, &[TokenKind::Refresh])?;
        let (family, _) = refresh_ids(&claims)?;
        let stream = StreamName::new(SESSION_STREAMS, family);
        in_transaction!(self.store, |tx| {
            let (session, _) = load_session(&mut *tx, &claims.org, &stream).await?;
            if !session.revoked {
                let user = session.user_id.to_string();
                revoke(
                    &mut *tx,
                    &claims.org,
                    &user,
                    &stream,
                    RevokedBecause::Logout,
                )
                .await?;
            }
            Ok(())
        })
    }

    fn issue(
        &self,
        identity: &Identity,
        family: Uuid,
        token_id: Uuid,
    ) -> Result<TokenPair, ApiError> {
        let mut refresh =
            self.tokens
                .claims(identity, TokenKind::Refresh, self.tokens.lifetimes.refresh);
        refresh.jti = token_id.to_string();
        refresh.fam = Some(family.to_string());
        Ok(TokenPair {
            access_token: self.tokens.access_token(identity)?,
            refresh_token: self.tokens.sign(&refresh)?,
            expires_in: self.tokens.lifetimes.access.as_secs(),
        })
    }
}

/// Ends the session, in the caller's transaction; `actor` is who ended it.
async fn revoke(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    stream: &StreamName,
    reason: RevokedBecause,
) -> Result<(), ApiError> {
    let revoked = SessionEvent::Revoked(SessionRevoked {
        session_id: stream.id(),
        reason,
    });
    append_event(tx, org, actor, stream, ExpectedVersion::Any, &revoked).await
}

/// The session as its events leave it, and the version to expect; another organization's, or
/// none, is an unknown session.
async fn load_session(
    tx: &mut PgConnection,
    org: &str,
    stream: &StreamName,
) -> Result<(Session, ExpectedVersion), ApiError> {
    let unknown = || ApiError::new(ErrorKind::Unauthenticated, "unknown session; log in again");
    let events = read_stream_in(tx, stream, 0, 10_000)
        .await
        .map_err(api_error)?;
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(unknown());
    };
    if first.tenant_id != org {
        return Err(unknown());
    }
    let decode = |event| {
        comms_bus::decode_recorded::<SessionEvent>(event).map_err(|e| {
            tracing::error!(error = %e, "unreadable event in a session stream");
            ApiError::internal()
        })
    };
    let SessionEvent::Started(started) = decode(first)? else {
        return Err(ApiError::internal());
    };
    let mut session = Session {
        user_id: started.user_id,
        current: started.token_id,
        revoked: false,
    };
    for event in &events[1..] {
        match decode(event)? {
            SessionEvent::Refreshed(refreshed) => session.current = refreshed.token_id,
            SessionEvent::Revoked(_) => session.revoked = true,
            SessionEvent::Started(_) => {}
        }
    }
    Ok((session, ExpectedVersion::Exact(last.stream_position as u64)))
}

fn refresh_ids(claims: &comms_auth::Claims) -> Result<(Uuid, Uuid), ApiError> {
    let family = claims.fam.as_deref().and_then(|f| Uuid::parse_str(f).ok());
    let token = Uuid::parse_str(&claims.jti).ok();
    family.zip(token).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unauthenticated,
            "not a refresh token of a session",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_passwords_are_checked() {
        assert!(check_email("ada@example.com").is_ok());
        assert!(check_email("a.b+tag@mail.example.co").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@example.com",
            "ada@exa_mple.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("correct horse battery").is_ok());
        assert!(check_password("short").is_err());
        // Counted in characters: 256 four-byte ones pass, one more does not.
        assert!(check_password(&"🐈".repeat(256)).is_ok());
        assert!(check_password(&"x".repeat(257)).is_err());
    }

    #[tokio::test]
    async fn long_passphrases_are_hashed_whole_and_older_hashes_still_verify() {
        let long = "x".repeat(100);
        let hash = bcrypt_hash(long.clone(), 4).await.unwrap();
        assert!(hash.starts_with(PREHASHED), "{hash}");
        assert!(bcrypt_verify(long.clone(), hash.clone()).await);
        // bcrypt alone would read only the first 72 bytes and take this one too.
        assert!(!bcrypt_verify("x".repeat(80), hash).await);
        let before = bcrypt::hash("correct horse battery", 4).unwrap();
        assert!(bcrypt_verify("correct horse battery".into(), before).await);
    }
}
