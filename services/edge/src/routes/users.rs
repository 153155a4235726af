//! `/api/communications/users`: standalone mode's user administration (admins only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_auth::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::auth::accounts::{NewUser, User as StoredUser};
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(example = "grace@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 12–256 characters.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    pub password: String,
    /// admin, supervisor or agent.
    #[schema(pattern = "^(admin|supervisor|agent)$")]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl From<StoredUser> for User {
    fn from(user: StoredUser) -> Self {
        Self {
            id: user.user_id.to_string(),
            organization_id: user.org_id,
            email: user.email,
            role: user.role,
            created_at: user.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub data: Vec<User>,
}

/// Create a user in the caller's organization.
#[utoipa::path(post, path = "/api/communications/users", tag = "users", request_body = CreateUser,
    security(("bearer" = ["users:manage"])),
    responses(
        (status = 201, body = User),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, axum::Json<User>)> {
    state.auth.standalone_only()?;
    caller.require(Permission::UsersManage)?;
    let identity = &caller.identity;
    let new = NewUser {
        email: body.email,
        password: body.password,
        role: body.role,
    };
    let user = state
        .auth
        .accounts
        .create_user(&identity.org_id, &identity.user_id, new)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(user.into())))
}

/// The organization's users, oldest first.
#[utoipa::path(get, path = "/api/communications/users", tag = "users",
    security(("bearer" = ["users:manage"])),
    responses(
        (status = 200, body = UserList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<UserList>> {
    state.auth.standalone_only()?;
    caller.require(Permission::UsersManage)?;
    let users = state.auth.accounts.list(&caller.identity.org_id).await?;
    Ok(axum::Json(UserList {
        data: users.into_iter().map(User::from).collect(),
    }))
}

/// One user of the caller's organization.
#[utoipa::path(get, path = "/api/communications/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["users:manage"])),
    responses(
        (status = 200, body = User),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<User>> {
    state.auth.standalone_only()?;
    caller.require(Permission::UsersManage)?;
    let id = crate::routes::parse_id(&id)?;
    Ok(axum::Json(
        state
            .auth
            .accounts
            .get(&caller.identity.org_id, id)
            .await?
            .into(),
    ))
}
