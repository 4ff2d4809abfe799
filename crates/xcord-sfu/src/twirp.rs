//! LiveKit's RoomService over Twirp: `POST /twirp/livekit.RoomService/<Method>`, in protobuf
//! (`application/protobuf`, the Python and Rust server SDKs) or JSON (`application/json`, the Node
//! SDK), authorised by a Bearer token with the roomCreate / roomList / roomAdmin grants. Errors
//! are Twirp's `{code, msg}`; tokens that do not verify are refused in plain text before Twirp,
//! as the reference server does.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use livekit_api::access_token::Claims;
use livekit_protocol as proto;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{AuthError, KeyStore, token_from_request};
use crate::rooms::{RoomService, RoomServiceError};

#[derive(Clone)]
struct TwirpState {
    keys: KeyStore,
    rooms: RoomService,
}

/// The `/twirp/livekit.RoomService/*` routes.
pub fn router(keys: KeyStore, rooms: RoomService) -> Router {
    Router::new()
        .route("/twirp/livekit.RoomService/{method}", post(call))
        .with_state(Arc::new(TwirpState { keys, rooms }))
}

/// A Twirp error: code name, HTTP status and message.
#[derive(Debug)]
struct TwirpError {
    code: &'static str,
    status: StatusCode,
    msg: String,
}

impl TwirpError {
    fn new(code: &'static str, status: StatusCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            status,
            msg: msg.into(),
        }
    }
    fn unauthenticated(msg: impl Into<String>) -> Self {
        Self::new("unauthenticated", StatusCode::UNAUTHORIZED, msg)
    }
    fn invalid(msg: impl Into<String>) -> Self {
        Self::new("invalid_argument", StatusCode::BAD_REQUEST, msg)
    }
}

impl From<RoomServiceError> for TwirpError {
    fn from(e: RoomServiceError) -> Self {
        match e {
            RoomServiceError::NotFound(m) => Self::new("not_found", StatusCode::NOT_FOUND, m),
            RoomServiceError::InvalidArgument(m) => Self::invalid(m),
            RoomServiceError::Unavailable => Self::new(
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "msg": self.msg });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

#[derive(Clone, Copy)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Result<Self, TwirpError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mime = ct.split(';').next().unwrap_or_default().trim();
        match mime {
            "application/protobuf" | "application/x-protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            other => Err(Self::bad_route(other)),
        }
    }

    fn bad_route(ct: &str) -> TwirpError {
        TwirpError::new(
            "bad_route",
            StatusCode::NOT_FOUND,
            format!("unexpected Content-Type: {ct:?}"),
        )
    }

    fn decode<T: Message + Default + DeserializeOwned>(self, body: &[u8]) -> Result<T, TwirpError> {
        match self {
            Self::Protobuf => T::decode(body).map_err(|e| {
                TwirpError::new(
                    "malformed",
                    StatusCode::BAD_REQUEST,
                    format!("the request could not be decoded: {e}"),
                )
            }),
            Self::Json => {
                let body = if body.is_empty() {
                    b"{}".as_slice()
                } else {
                    body
                };
                serde_json::from_slice(body).map_err(|e| {
                    TwirpError::new(
                        "malformed",
                        StatusCode::BAD_REQUEST,
                        format!("the json request could not be decoded: {e}"),
                    )
                })
            }
        }
    }

    fn encode<T: Message + Serialize>(self, value: &T) -> Response {
        match self {
            Self::Protobuf => (
                [(header::CONTENT_TYPE, "application/protobuf")],
                value.encode_to_vec(),
            )
                .into_response(),
            Self::Json => match serde_json::to_vec(value) {
                Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
                Err(e) => {
                    TwirpError::new("internal", StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                        .into_response()
                }
            },
        }
    }
}

/// Which grant a method needs.
enum Needs {
    Create,
    List,
    Admin(String),
}

fn check(claims: &Claims, needs: Needs) -> Result<(), TwirpError> {
    let v = &claims.video;
    let ok = match &needs {
        Needs::Create => v.room_create,
        Needs::List => v.room_list,
        // As LiveKit: roomAdmin is for the one room the token names (an empty grant room is
        // admin of nothing, not of every room).
        Needs::Admin(room) => v.room_admin && !room.is_empty() && v.room == *room,
    };
    if ok {
        Ok(())
    } else {
        Err(TwirpError::unauthenticated("permissions denied"))
    }
}

async fn call(
    State(state): State<Arc<TwirpState>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = match token_from_request(authorization, None) {
        Ok(Some(token)) => match state.keys.verify(&token) {
            Ok(c) => c,
            Err(e) => return plain_unauthorized(&e),
        },
        Ok(None) => {
            return TwirpError::unauthenticated("no permissions to access the room")
                .into_response();
        }
        Err(e) => return plain_unauthorized(&e),
    };
    let enc = match Encoding::of(&headers) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    match dispatch(&state.rooms, &method, &claims, enc, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn plain_unauthorized(e: &AuthError) -> Response {
    (StatusCode::UNAUTHORIZED, e.to_string()).into_response()
}

async fn dispatch(
    rooms: &RoomService,
    method: &str,
    claims: &Claims,
    enc: Encoding,
    body: &[u8],
) -> Result<Response, TwirpError> {
    Ok(match method {
        "CreateRoom" => {
            let req: proto::CreateRoomRequest = enc.decode(body)?;
            check(claims, Needs::Create)?;
            enc.encode(&rooms.create_room(req).await?)
        }
        "ListRooms" => {
            let req: proto::ListRoomsRequest = enc.decode(body)?;
            check(claims, Needs::List)?;
            let rooms = rooms.list_rooms(req.names).await?;
            enc.encode(&proto::ListRoomsResponse { rooms })
        }
        "DeleteRoom" => {
            let req: proto::DeleteRoomRequest = enc.decode(body)?;
            check(claims, Needs::Create)?;
            rooms.delete_room(req.room).await?;
            enc.encode(&proto::DeleteRoomResponse {})
        }
        "UpdateRoomMetadata" => {
            let req: proto::UpdateRoomMetadataRequest = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            enc.encode(&rooms.update_room_metadata(req.room, req.metadata).await?)
        }
        "ListParticipants" => {
            let req: proto::ListParticipantsRequest = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            let participants = rooms.list_participants(req.room).await?;
            enc.encode(&proto::ListParticipantsResponse { participants })
        }
        "GetParticipant" => {
            let req: proto::RoomParticipantIdentity = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            enc.encode(&rooms.get_participant(req.room, req.identity).await?)
        }
        "RemoveParticipant" => {
            let req: proto::RoomParticipantIdentity = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            rooms.remove_participant(req.room, req.identity).await?;
            enc.encode(&proto::RemoveParticipantResponse {})
        }
        "MutePublishedTrack" => {
            let req: proto::MuteRoomTrackRequest = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            let track = rooms.mute_published_track(req).await?;
            enc.encode(&proto::MuteRoomTrackResponse { track: Some(track) })
        }
        "UpdateParticipant" => {
            let req: proto::UpdateParticipantRequest = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            enc.encode(&rooms.update_participant(req).await?)
        }
        "UpdateSubscriptions" => {
            let req: proto::UpdateSubscriptionsRequest = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            rooms.update_subscriptions(req).await?;
            enc.encode(&proto::UpdateSubscriptionsResponse {})
        }
        "SendData" => {
            let req: proto::SendDataRequest = enc.decode(body)?;
            check(claims, Needs::Admin(req.room.clone()))?;
            rooms.send_data(req).await?;
            enc.encode(&proto::SendDataResponse {})
        }
        "ForwardParticipant" | "MoveParticipant" | "PerformRpc" => {
            return Err(TwirpError::new(
                "unimplemented",
                StatusCode::NOT_IMPLEMENTED,
                format!("{method} is not supported by xcord"),
            ));
        }
        other => {
            return Err(TwirpError::new(
                "bad_route",
                StatusCode::NOT_FOUND,
                format!("no handler for path \"/twirp/livekit.RoomService/{other}\""),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::VideoGrants;

    fn claims(video: VideoGrants) -> Claims {
        Claims {
            video,
            ..Default::default()
        }
    }

    #[test]
    fn room_admin_is_for_the_named_room_only() {
        let admin_of = |room: &str| {
            claims(VideoGrants {
                room_admin: true,
                room: room.to_owned(),
                ..Default::default()
            })
        };
        assert!(check(&admin_of("a"), Needs::Admin("a".into())).is_ok());
        assert!(check(&admin_of("a"), Needs::Admin("b".into())).is_err());
        assert!(
            check(&admin_of(""), Needs::Admin("b".into())).is_err(),
            "an empty room is not every room"
        );
        assert!(check(&admin_of(""), Needs::Admin(String::new())).is_err());
        let not_admin = claims(VideoGrants {
            room: "a".into(),
            ..Default::default()
        });
        assert!(check(&not_admin, Needs::Admin("a".into())).is_err());
    }
}
