//! Test servers: each test starts its own nats-server (or cluster) on free loopback ports with its
//! own storage directory, killed and removed on drop.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod faults;
pub mod totals;

/// The nats-server binary: `NATS_SERVER_BIN` or `nats-server` on PATH. Missing is a failure.
pub fn server_binary() -> String {
    let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(out) if out.status.success() => bin,
        _ => panic!(
            "`{bin}` not found: the es-nats tests start their own NATS JetStream servers. \
             Run `bash scripts/test -p es-nats` (it installs nats-server), or \
             `apt-get install nats-server`, or set NATS_SERVER_BIN."
        ),
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("es-nats-{tag}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One nats-server with JetStream.
pub struct NatsServer {
    pub port: u16,
    dir: PathBuf,
    config: Option<PathBuf>,
    child: Option<Child>,
    owns_dir: bool,
}

impl NatsServer {
    /// A single server on a free port with its own storage directory.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// A single server on `port` with its own storage directory.
    pub fn start_on(port: u16) -> Self {
        let dir = temp_dir("server");
        let mut server = Self {
            port,
            dir,
            config: None,
            child: None,
            owns_dir: true,
        };
        server.spawn();
        server.wait_ready();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut command = Command::new(server_binary());
        match &self.config {
            Some(config) => {
                command.arg("-c").arg(config);
            }
            None => {
                command
                    .args(["-js", "-a", "127.0.0.1", "-p"])
                    .arg(self.port.to_string())
                    .arg("-sd")
                    .arg(self.dir.join("js"));
            }
        }
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        command.stdout(Stdio::null()).stderr(log);
        self.child = Some(command.spawn().expect("start nats-server"));
    }

    /// Waits until the server accepts connections.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nats-server on port {} did not come up", self.port);
    }

    /// SIGKILLs the server (its storage stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready();
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A 3-node JetStream cluster on loopback, each node with its own config file and storage.
pub struct NatsCluster {
    pub nodes: Vec<NatsServer>,
    dir: PathBuf,
}

impl NatsCluster {
    pub fn start(size: usize) -> Self {
        let dir = temp_dir("cluster");
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (client, cluster)) in ports.iter().enumerate() {
            let node_dir = dir.join(format!("n{i}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, c))| format!("nats-route://127.0.0.1:{c}"))
                .collect();
            let config = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{client}\n\
                 jetstream {{ store_dir: \"{}\" }}\n\
                 cluster {{\n  name: es-test\n  listen: 127.0.0.1:{cluster}\n  routes: [{}]\n}}\n",
                node_dir.join("js").display(),
                routes.join(", ")
            );
            let path = node_dir.join("server.conf");
            std::fs::write(&path, config).unwrap();
            let mut node = NatsServer {
                port: *client,
                dir: node_dir,
                config: Some(path),
                child: None,
                owns_dir: false,
            };
            node.spawn();
            nodes.push(node);
        }
        for node in &nodes {
            node.wait_ready();
        }
        Self { nodes, dir }
    }

    /// All client URLs, comma-separated (the client fails over between them).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url()).collect()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Connects with fast reconnects.
pub async fn connect(urls: &[String]) -> async_nats::Client {
    let addrs: Vec<async_nats::ServerAddr> = urls.iter().map(|u| u.parse().unwrap()).collect();
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 50).min(500)))
        .connect(addrs)
        .await
        .expect("connect to NATS")
}

/// Every message of a JetStream stream, in sequence order: (sequence, headers, payload).
pub async fn stream_messages(
    client: &async_nats::Client,
    stream: &str,
) -> Vec<async_nats::jetstream::message::StreamMessage> {
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(stream).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return out;
    }
    for seq in state.first_sequence..=state.last_sequence {
        if let Ok(message) = stream.get_raw_message(seq).await {
            out.push(message);
        }
    }
    out
}

pub fn header<'m>(
    message: &'m async_nats::jetstream::message::StreamMessage,
    name: &str,
) -> &'m str {
    message.headers.get(name).map(|v| v.as_str()).unwrap_or("")
}

pub fn remove_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
