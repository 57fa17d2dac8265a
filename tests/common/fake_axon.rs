//! A fake miner axon for tests and benches: a warp server on 127.0.0.1 built on `btvep::bittensor::axon`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use btvep::bittensor::axon::{self, AxonResponse, AxonVerifier};
use warp::Filter;

/// How the fake axon answers.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// Verify like the SDK, then answer `completion` (a `{messages}` placeholder is replaced by the last message).
    Verify(String),
    /// Answer a canned success instantly without verification (bench: no miner time).
    Canned,
    /// Sleep, then answer (for timeouts).
    Sleep(Duration),
    /// 200 with a body that is not JSON.
    Garbage,
    /// Verify, then 200 with an empty completion.
    Empty,
    /// 6.x style: HTTP 500, body `{}`, real status 403 in the header.
    SixX403,
    /// A body bigger than any sane cap.
    Huge(usize),
    /// Asks the script what to do with each request (numbered from 0 per axon).
    Scripted(Script),
}

/// What a scripted axon does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wait, then verify and answer `ok`.
    Answer(Duration),
    /// Wait, then answer with the axon status 500.
    Fail(Duration),
    /// Never answer (until the client gives up).
    Hang,
}

/// A per-request script: request number → what to do.
#[derive(Clone)]
pub struct Script(pub Arc<dyn Fn(u64) -> Step + Send + Sync>);

impl Script {
    /// A script from a closure.
    pub fn new(f: impl Fn(u64) -> Step + Send + Sync + 'static) -> Self {
        Script(Arc::new(f))
    }
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Script")
    }
}

fn to_vec<B: AsRef<[u8]>>(b: B) -> Vec<u8> {
    b.as_ref().to_vec()
}

fn reply(r: AxonResponse) -> warp::http::Response<Vec<u8>> {
    let mut builder = warp::http::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(r.body).unwrap_or_default()
}

const CANNED: &[u8] = br#"{"roles":["user"],"messages":["hi"],"completion":"canned","axon":{"status_code":200,"status_message":"Success"}}"#;

fn handle(
    verifier: &AxonVerifier,
    behavior: &Behavior,
    path: &str,
    headers: &warp::http::HeaderMap,
    body: &[u8],
) -> warp::http::Response<Vec<u8>> {
    let start = Instant::now();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    match behavior {
        Behavior::Canned => {
            let mut r = warp::http::Response::new(CANNED.to_vec());
            r.headers_mut().insert(
                "content-type",
                warp::http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Behavior::Garbage => {
            let mut r = warp::http::Response::new(b"<html>not json".to_vec());
            r.headers_mut().insert(
                "content-type",
                warp::http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Behavior::Huge(n) => {
            let mut body = br#"{"roles":[],"messages":[],"completion":""#.to_vec();
            body.extend(std::iter::repeat_n(b'x', *n));
            body.extend_from_slice(br#""}"#);
            let mut r = warp::http::Response::new(body);
            r.headers_mut().insert(
                "content-type",
                warp::http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Behavior::SixX403 => {
            let mut r = reply(axon::error_response_with(
                "Prompting",
                403,
                "Forbidden. Key is blacklisted: test.",
                0.001,
            ));
            *r.status_mut() = warp::http::StatusCode::INTERNAL_SERVER_ERROR;
            *r.body_mut() = b"{}".to_vec();
            r
        }
        Behavior::Scripted(_) => unreachable!("scripted requests are handled in spawn"),
        Behavior::Verify(_) | Behavior::Empty | Behavior::Sleep(_) => {
            match verifier.verify(path, pairs, body) {
                Err(e) => reply(axon::error_response(&e, start.elapsed().as_secs_f64())),
                Ok(req) => {
                    let completion = match behavior {
                        Behavior::Verify(c) => c.replace(
                            "{messages}",
                            req.messages.last().map(String::as_str).unwrap_or(""),
                        ),
                        Behavior::Sleep(_) => "late".to_string(),
                        _ => String::new(),
                    };
                    reply(axon::success_response(
                        &req,
                        verifier.hotkey(),
                        &completion,
                        start.elapsed().as_secs_f64(),
                    ))
                }
            }
        }
    }
}

/// Bind 127.0.0.1:0 first (so no sleeps are needed), then serve in the background. Returns the address.
pub async fn spawn(behavior: Behavior, axon_hotkey: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let verifier = Arc::new(AxonVerifier::new(axon_hotkey));
    let behavior = Arc::new(behavior);
    let count = Arc::new(AtomicU64::new(0));
    let route = warp::path::full()
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes().map(to_vec))
        .then(
            move |path: warp::path::FullPath, headers: warp::http::HeaderMap, body: Vec<u8>| {
                let (verifier, behavior) = (Arc::clone(&verifier), Arc::clone(&behavior));
                let n = count.fetch_add(1, Ordering::SeqCst);
                async move {
                    if let Behavior::Sleep(d) = *behavior {
                        tokio::time::sleep(d).await;
                    }
                    if let Behavior::Scripted(script) = &*behavior {
                        let step = (script.0)(n);
                        let answer = match step {
                            Step::Answer(d) => {
                                tokio::time::sleep(d).await;
                                Behavior::Verify("ok".into())
                            }
                            Step::Fail(d) => {
                                tokio::time::sleep(d).await;
                                return reply(axon::error_response_with(
                                    "Prompting",
                                    500,
                                    "Internal Server Error",
                                    d.as_secs_f64(),
                                ));
                            }
                            Step::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                Behavior::Empty
                            }
                        };
                        return handle(&verifier, &answer, path.as_str(), &headers, &body);
                    }
                    handle(&verifier, &behavior, path.as_str(), &headers, &body)
                }
            },
        );
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}
