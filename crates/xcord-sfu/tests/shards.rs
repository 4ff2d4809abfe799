//! Rooms sharded across media threads: each room's participants get the candidates of its
//! shard's socket, and the room service sees every shard's rooms.

mod common;

use std::collections::HashSet;

use common::{Client, WAIT, start_with, token};
use livekit_protocol as proto;
use proto::signal_response::Message as Resp;

/// The port of the (UDP) host candidate in the first subscriber offer `c` receives.
async fn offered_port(c: &mut Client) -> u16 {
    let offer = loop {
        match c.next(WAIT).await {
            common::Event::Msg(m) => match *m {
                Resp::Offer(o) => break o,
                _ => continue,
            },
            other => panic!("no subscriber offer: {other:?}"),
        }
    };
    offer
        .sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate:") && !l.contains("tcptype"))
        .find_map(|l| l.split_whitespace().nth(5)?.parse().ok())
        .unwrap_or_else(|| panic!("no UDP host candidate; sdp:\n{}", offer.sdp))
}

#[tokio::test]
async fn rooms_spread_over_shards_and_the_room_service_sees_them_all() {
    let s = start_with(|c| c.media_threads = 3).await;
    let addrs = s.sfu.media_addrs();
    assert_eq!(addrs.len(), 3);
    let ports: HashSet<u16> = addrs.iter().map(|a| a.port()).collect();
    assert_eq!(ports.len(), 3, "one socket per shard: {addrs:?}");

    let rooms: Vec<String> = (0..9).map(|i| format!("shard-room-{i}")).collect();
    let mut clients = Vec::new();
    let mut used = HashSet::new();
    for room in &rooms {
        let (mut c, _) = Client::join(s.addr, &token("alice", room), "alice").await;
        let port = offered_port(&mut c).await;
        assert_eq!(
            port,
            s.sfu.media_addr_for_room(room).port(),
            "{room}: candidates carry its shard's port"
        );
        used.insert(port);
        clients.push(c);
    }
    assert!(used.len() >= 2, "9 rooms all hashed to one shard: {used:?}");

    let rs = s.sfu.rooms();
    let listed = rs.list_rooms(Vec::new()).await.unwrap();
    let mut names: Vec<String> = listed.iter().map(|r| r.name.clone()).collect();
    let mut expected = rooms.clone();
    expected.sort();
    names.sort();
    assert_eq!(names, expected, "ListRooms gathers every shard");
    let census = rs.census().await.unwrap();
    assert_eq!((census.rooms, census.participants), (9, 9));

    // Calls about one room reach its shard, wherever that is.
    for room in &rooms[..3] {
        let ps = rs.list_participants(room.clone()).await.unwrap();
        assert_eq!(ps.len(), 1, "{room}");
        rs.remove_participant(room.clone(), "alice".into())
            .await
            .unwrap();
    }
    rs.delete_room(rooms[3].clone()).await.unwrap();
    let left = rs
        .list_rooms(vec![rooms[3].clone(), rooms[4].clone()])
        .await;
    let left: Vec<String> = left.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(left, vec![rooms[4].clone()]);
    let census = rs.census().await.unwrap();
    assert_eq!(census.participants, 5, "3 removed, 1 room deleted");
    drop(clients);
}
