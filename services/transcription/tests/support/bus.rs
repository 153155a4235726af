//! What the service tests share: a database of their own, an exchange of their own with the
//! relay publishing the log to it, and a tap on the transcripts' events.

use std::time::Duration;

use comms_auth::{Identity, Role};
use comms_bus::{Relay, RelayConfig};
use comms_events::Event as _;
use comms_events::call::{Transcribed, Utterance};
use comms_eventstore::EventStore;
use comms_proto::v1::transcription_service_client::TranscriptionServiceClient;
use comms_runtime::{Env, Shutdown, ShutdownTrigger};
use comms_testkit::{TestDatabase, amqp_connection, amqp_url, unique_name};
use lapin::options::BasicGetOptions;
use serde_json::Value;

/// A transcription service the test runs: its media sockets, its gRPC API, and the tokens its
/// callers' service tokens are signed with.
pub struct Served {
    pub media: std::net::SocketAddr,
    pub grpc: std::net::SocketAddr,
    pub tokens: comms_auth::Tokens,
}

pub type Client = TranscriptionServiceClient<tonic::transport::Channel>;

impl Served {
    /// A client of its gRPC API.
    pub async fn client(&self) -> Client {
        TranscriptionServiceClient::connect(format!("http://{}", self.grpc))
            .await
            .unwrap()
    }

    /// `message`, as `user` (`role`) of `org` sends it: with their service token.
    pub fn ask<T>(&self, org: &str, user: &str, role: Role, message: T) -> tonic::Request<T> {
        let identity = Identity::new(org, user, role).unwrap();
        let token = self.tokens.internal_token(&identity).unwrap();
        let mut request = tonic::Request::new(message);
        comms_auth::service::attach(request.metadata_mut(), &token);
        request
    }
}

pub struct Bus {
    pub db: TestDatabase,
    pub amqp: lapin::Channel,
    pub exchange: String,
    pub shutdown: Shutdown,
    tap: String,
    _stop: ShutdownTrigger,
}

impl Bus {
    /// With a tap on the transcripts' utterances and their completion.
    pub async fn start() -> Self {
        Self::tapping(&[Utterance::TYPE, Transcribed::TYPE]).await
    }

    /// With a tap on the events of `event_types`.
    pub async fn tapping(event_types: &[&str]) -> Self {
        let db = TestDatabase::new().await;
        let (stop, shutdown) = Shutdown::new();
        let exchange = unique_name("test.events");
        let connection = amqp_connection().await;
        let amqp = connection.create_channel().await.unwrap();
        std::mem::forget(connection); // lives as long as the test process
        comms_bus::declare_events_exchange(&amqp, &exchange)
            .await
            .unwrap();
        let tap = unique_name("test.tap");
        let bindings: Vec<String> = event_types.iter().map(|t| (*t).to_owned()).collect();
        comms_bus::declare_queue(&amqp, &exchange, &tap, &bindings, Default::default())
            .await
            .unwrap();
        let relay = Relay::new(
            EventStore::new(db.pool.clone()),
            RelayConfig::new(amqp_url(), exchange.clone()),
        );
        tokio::spawn(relay.run(shutdown.clone().wait()));
        Self {
            db,
            amqp,
            exchange,
            shutdown,
            tap,
            _stop: stop,
        }
    }

    /// The settings that point the service at this database and exchange, and `more`.
    pub fn env(&self, more: &[(&str, &str)]) -> Env {
        let amqp = amqp_url();
        let search = unique_name("test.search");
        let mut pairs = vec![
            ("DATABASE_URL", self.db.url.as_str()),
            ("RABBITMQ_URL", amqp.as_str()),
            ("EVENTS_EXCHANGE", self.exchange.as_str()),
            ("TRANSCRIPT_SEARCH_QUEUE", search.as_str()),
        ];
        pairs.extend_from_slice(more);
        Env::from_pairs(pairs)
    }

    /// Serves the transcription service with `config` until the test ends. Its search
    /// consumer's queue is declared first, as the relay declares the fleet's at start-up: an
    /// event published before the queue exists would reach no one.
    pub async fn serve(&self, config: comms_transcription::Config) -> Served {
        comms_bus::declare_consumer(&self.amqp, &config.search)
            .await
            .unwrap();
        let media = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = Served {
            media: media.local_addr().unwrap(),
            grpc: grpc.local_addr().unwrap(),
            tokens: comms_auth::AuthConfig::ephemeral().tokens,
        };
        tokio::spawn(comms_transcription::run(
            config,
            served.tokens.clone(),
            media,
            grpc,
            self.shutdown.clone(),
        ));
        served
    }

    /// The next envelope on the tap.
    pub async fn next(&self) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            let got = self
                .amqp
                .basic_get(self.tap.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap();
            match got {
                Some(message) => return serde_json::from_slice(&message.data).unwrap(),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("nothing on the tap for a minute");
    }
}
