//! xcord's control plane: everything around the media plane — for now the `MediaPlane`
//! boundary (LiveKit's server API, in-process or over HTTP) and the handling of its events.

pub mod media;
