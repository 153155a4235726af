//! A TCP proxy a test puts between a service and PostgreSQL or RabbitMQ, to stage the network
//! faults production sees: a link that is cut (connections reset, new ones refused) and a link
//! that goes silent (a node that vanished without closing its sockets: nothing is refused,
//! nothing arrives).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The state of the proxied link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Bytes flow both ways.
    Up,
    /// Open connections are closed and new ones are closed as soon as they arrive.
    Cut,
    /// Connections stay open and nothing flows either way; new ones are accepted and hang.
    /// Bringing the link up again lets the held bytes through, as a healed partition does.
    Silent,
    /// The server hears the client, and the client hears nothing back (held as when silent):
    /// what the client sent takes effect while it waits for an answer that may never come.
    Deaf,
    /// Up until a client sends these bytes (say `COMMIT`); deaf from then on.
    DeafAfter(&'static [u8]),
}

/// Which way bytes go through a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    ToServer,
    ToClient,
}

/// A proxy on a loopback port, forwarding to one upstream server. Dropping it closes every
/// connection through it.
pub struct FaultProxy {
    address: SocketAddr,
    link: Arc<watch::Sender<Link>>,
    /// Where new connections go; changing it closes the open ones ([`FaultProxy::redirect`]).
    upstream: watch::Sender<SocketAddr>,
    accepting: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to the server `url` points at (`postgres://` or `amqp://`).
    pub async fn to(url: &str) -> Self {
        let upstream = upstream_address(url).await;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let link = Arc::new(watch::Sender::new(Link::Up));
        let upstream = watch::Sender::new(upstream);
        let accepting = tokio::spawn(accept(listener, upstream.subscribe(), link.clone()));
        Self {
            address,
            link,
            upstream,
            accepting,
        }
    }

    /// Sends new connections to the server `url` points at instead, and closes the open ones:
    /// what a Kubernetes Service does when the pod behind it is replaced.
    pub async fn redirect(&self, url: &str) {
        self.upstream.send_replace(upstream_address(url).await);
    }

    /// `url` with its server replaced by this proxy: connect with it to go through the proxy.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        let credentials = authority.rsplit_once('@').map(|(user, _)| user);
        match credentials {
            Some(user) => format!("{scheme}://{user}@{}{path}", self.address),
            None => format!("{scheme}://{}{path}", self.address),
        }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.link.send_replace(Link::Cut);
        self.accepting.abort();
    }
}

async fn upstream_address(url: &str) -> SocketAddr {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default_port = if scheme.starts_with("amqp") {
        5672
    } else {
        5432
    };
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    tokio::net::lookup_host(&host_port)
        .await
        .expect("resolve the upstream server")
        .next()
        .expect("the upstream server has an address")
}

async fn accept(
    listener: TcpListener,
    upstream: watch::Receiver<SocketAddr>,
    link: Arc<watch::Sender<Link>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(forward(client, upstream.clone(), link.clone()));
    }
}

/// Connects upstream once the link lets anything through, then copies both ways until either
/// side closes, the link is cut, or the upstream changes.
async fn forward(
    client: TcpStream,
    mut upstream: watch::Receiver<SocketAddr>,
    setting: Arc<watch::Sender<Link>>,
) {
    let mut link = setting.subscribe();
    if !wait_until_up(&mut link, Way::ToServer).await {
        return;
    }
    let server_address = *upstream.borrow_and_update();
    let Ok(server) = TcpStream::connect(server_address).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // When either direction ends, both sockets close (each half drops with its task).
    tokio::select! {
        () = copy(client_read, server_write, Way::ToServer, setting.clone()) => {}
        () = copy(server_read, client_write, Way::ToClient, setting) => {}
        _ = upstream.changed() => {}
    }
}

/// Copies bytes `way` while the link lets them through; holds them while it does not; returns
/// when it is cut or either side closes.
async fn copy(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    way: Way,
    setting: Arc<watch::Sender<Link>>,
) {
    let mut link = setting.subscribe();
    let mut buffer = vec![0; 16 * 1024];
    loop {
        if !wait_until_up(&mut link, way).await {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = link.changed() => continue,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // The value is copied out first: sending while a borrow is held would deadlock.
        let now = *link.borrow();
        if let Link::DeafAfter(trigger) = now
            && way == Way::ToServer
            && buffer[..n].windows(trigger.len()).any(|w| w == trigger)
        {
            setting.send_replace(Link::Deaf);
        }
        // Bytes read just as the link went silent are held until it is up again.
        if !wait_until_up(&mut link, way).await || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits while the link holds bytes going `way`; true once they flow, false if it is cut.
async fn wait_until_up(link: &mut watch::Receiver<Link>, way: Way) -> bool {
    loop {
        match *link.borrow_and_update() {
            Link::Up | Link::DeafAfter(_) => return true,
            Link::Deaf if way == Way::ToServer => return true,
            Link::Cut => return false,
            Link::Silent | Link::Deaf => {}
        }
        if link.changed().await.is_err() {
            return false;
        }
    }
}
