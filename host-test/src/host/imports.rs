//! The `env` module: proxy-wasm ABI 0.2.1 hostcalls, as Envoy 1.40 implements them.

use super::abi::{self, BufferType, MapType, MetricKind, Status};
use super::memory::{read, read_str, return_bytes, status, write_u32, write_u64, CallResult};
use super::properties;
use super::state::{HostEvent, HostState, Metric, Pairs, Queue};
use wasmtime::{Caller, Linker};

type C<'a> = Caller<'a, HostState>;

fn trace(caller: &mut C<'_>, name: &'static str) {
    caller.data_mut().trace.push(name);
}

/// Reads a header map, or the status Envoy returns when the map is not reachable.
fn map_get(state: &HostState, map: MapType) -> Result<Pairs, Status> {
    let access = state.access;
    match map {
        MapType::CallResponseHeaders => state.callout.as_ref().map(|c| c.headers.clone()).ok_or(Status::BadArgument),
        MapType::CallResponseTrailers => state.callout.as_ref().map(|c| c.trailers.clone()).ok_or(Status::BadArgument),
        MapType::GrpcInitialMetadata | MapType::GrpcTrailingMetadata => Err(Status::BadArgument),
        _ => {
            let stream = state.stream.as_ref().ok_or(Status::BadArgument)?.borrow();
            Ok(match map {
                MapType::RequestHeaders if access.request_headers || access.log_phase => stream.request_headers.clone(),
                MapType::RequestTrailers if access.request_trailers => stream.request_trailers.clone(),
                MapType::ResponseHeaders
                    if stream.response_started && (access.response_headers || access.log_phase) =>
                {
                    stream.response_headers.clone()
                }
                MapType::ResponseTrailers if access.response_trailers => stream.response_trailers.clone(),
                _ => return Err(Status::BadArgument),
            })
        }
    }
}

/// Applies `change` to a header map the current filter may modify; `BadArgument` otherwise
/// (measured in Envoy 1.40: the map is gone once its phase has passed).
fn map_change(state: &mut HostState, map: MapType, change: impl FnOnce(&mut Pairs)) -> CallResult {
    let allowed = match map {
        MapType::RequestHeaders => state.access.request_headers,
        MapType::ResponseHeaders => state.access.response_headers,
        MapType::RequestTrailers => state.access.request_trailers,
        MapType::ResponseTrailers => state.access.response_trailers,
        _ => false,
    };
    if !allowed {
        return Err(Status::BadArgument);
    }
    let stream = state.stream.as_ref().ok_or(Status::BadArgument)?;
    let mut stream = stream.borrow_mut();
    let target = match map {
        MapType::RequestHeaders => &mut stream.request_headers,
        MapType::ResponseHeaders => &mut stream.response_headers,
        MapType::RequestTrailers => &mut stream.request_trailers,
        _ => &mut stream.response_trailers,
    };
    change(target);
    Ok(())
}

fn map_type(raw: i32) -> Result<MapType, Status> {
    MapType::from_raw(raw as u32).ok_or(Status::BadArgument)
}

fn lower(key: String) -> String {
    key.to_ascii_lowercase()
}

/// `Buffer::copyFrom` in Envoy: start 0 replaces the first `size` bytes; start at or past the
/// end appends; anything else is `BadArgument`.
fn splice(buffer: &mut Vec<u8>, start: usize, size: usize, data: &[u8]) -> CallResult {
    if start == 0 {
        let drained = size.min(buffer.len());
        buffer.splice(0..drained, data.iter().copied());
        Ok(())
    } else if start >= buffer.len() {
        buffer.extend_from_slice(data);
        Ok(())
    } else {
        Err(Status::BadArgument)
    }
}

fn buffer_get(state: &HostState, kind: BufferType) -> Result<Vec<u8>, Status> {
    Ok(match kind {
        BufferType::PluginConfiguration => state.plugin.plugin_config.clone(),
        BufferType::VmConfiguration => state.plugin.vm_config.clone(),
        BufferType::CallResponseBody => state.callout.as_ref().ok_or(Status::NotFound)?.body.clone(),
        BufferType::GrpcReceive => state.grpc_message.clone().ok_or(Status::NotFound)?,
        BufferType::RequestBody => state.stream.as_ref().ok_or(Status::NotFound)?.borrow().request_body.clone(),
        BufferType::ResponseBody => state.stream.as_ref().ok_or(Status::NotFound)?.borrow().response_body.clone(),
    })
}

fn metric_mut(metrics: &mut [Metric], id: i32) -> Result<&mut Metric, Status> {
    metrics.get_mut((id as u32 as usize).wrapping_sub(1)).ok_or(Status::NotFound)
}

/// Adds every `env` hostcall to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("env", "proxy_log", |mut c: C<'_>, level: i32, ptr: i32, len: i32| -> i32 {
        trace(&mut c, "proxy_log");
        // Envoy writes a multi-line message as one entry; its log shows one line per line.
        let result = read_str(&c, ptr, len).map(|msg| {
            for line in msg.lines().filter(|l| !l.is_empty()) {
                c.data().log(abi::level_name(level as u32), line.to_string());
            }
        });
        status(result)
    })?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: C<'_>, out: i32| -> i32 {
        trace(&mut c, "proxy_get_log_level");
        status(write_u32(&mut c, out, 0))
    })?;
    linker.func_wrap("env", "proxy_get_current_time_nanoseconds", |mut c: C<'_>, out: i32| -> i32 {
        trace(&mut c, "proxy_get_current_time_nanoseconds");
        let now = c.data().now_ns;
        status(write_u64(&mut c, out, now))
    })?;
    linker.func_wrap("env", "proxy_set_tick_period_milliseconds", |mut c: C<'_>, ms: i32| -> i32 {
        trace(&mut c, "proxy_set_tick_period_milliseconds");
        c.data_mut().events.push(HostEvent::TickPeriod { ms: ms as u32 as u64 });
        0
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, kind: i32, start: i32, max: i32, ptr_out: i32, size_out: i32| -> i32 {
            trace(&mut c, "proxy_get_buffer_bytes");
            let result = (|| {
                let kind = BufferType::from_raw(kind as u32).ok_or(Status::BadArgument)?;
                let bytes = buffer_get(c.data(), kind)?;
                let start = (start as u32 as usize).min(bytes.len());
                let end = start.saturating_add(max as u32 as usize).min(bytes.len());
                return_bytes(&mut c, &bytes[start..end], ptr_out, size_out)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: C<'_>, kind: i32, len_out: i32, flags_out: i32| -> i32 {
            trace(&mut c, "proxy_get_buffer_status");
            let result = (|| {
                let kind = BufferType::from_raw(kind as u32).ok_or(Status::BadArgument)?;
                let len = buffer_get(c.data(), kind)?.len() as u32;
                write_u32(&mut c, len_out, len)?;
                write_u32(&mut c, flags_out, 0)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: C<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| -> i32 {
            trace(&mut c, "proxy_set_buffer_bytes");
            let result = (|| {
                let data = read(&c, ptr, len)?;
                let kind = BufferType::from_raw(kind as u32).ok_or(Status::BadArgument)?;
                let stream = c.data().stream.clone().ok_or(Status::NotFound)?;
                let mut stream = stream.borrow_mut();
                let buffer = match kind {
                    BufferType::RequestBody => &mut stream.request_body,
                    BufferType::ResponseBody => &mut stream.response_body,
                    _ => return Err(Status::BadArgument),
                };
                splice(buffer, start as u32 as usize, size as u32 as usize, &data)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, map: i32, ptr_out: i32, size_out: i32| -> i32 {
            trace(&mut c, "proxy_get_header_map_pairs");
            let result = (|| {
                let pairs = map_get(c.data(), map_type(map)?)?;
                return_bytes(&mut c, &abi::encode_pairs(&pairs), ptr_out, size_out)
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_get_header_map_size", |mut c: C<'_>, map: i32, size_out: i32| -> i32 {
        trace(&mut c, "proxy_get_header_map_size");
        let result = (|| {
            let size = abi::encode_pairs(&map_get(c.data(), map_type(map)?)?).len() as u32;
            write_u32(&mut c, size_out, size)
        })();
        status(result)
    })?;
    linker.func_wrap("env", "proxy_set_header_map_pairs", |mut c: C<'_>, map: i32, ptr: i32, len: i32| -> i32 {
        trace(&mut c, "proxy_set_header_map_pairs");
        let result = (|| {
            let pairs = abi::decode_pairs(&read(&c, ptr, len)?).ok_or(Status::BadArgument)?;
            let pairs: Pairs = pairs.into_iter().map(|(k, v)| (lower(k), v)).collect();
            map_change(c.data_mut(), map_type(map)?, |m| *m = pairs)
        })();
        status(result)
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C<'_>, map: i32, kp: i32, kl: i32, ptr_out: i32, size_out: i32| -> i32 {
            trace(&mut c, "proxy_get_header_map_value");
            let result = (|| {
                let key = lower(read_str(&c, kp, kl)?);
                let pairs = map_get(c.data(), map_type(map)?)?;
                let value = pairs.into_iter().find(|(k, _)| *k == key).ok_or(Status::NotFound)?.1;
                // An empty value comes back as a null pointer, as in Envoy (the SDK reads `None`).
                return_bytes(&mut c, &value, ptr_out, size_out)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C<'_>, map: i32, kp: i32, kl: i32, vp: i32, vl: i32| -> i32 {
            trace(&mut c, "proxy_replace_header_map_value");
            let result = (|| {
                let key = lower(read_str(&c, kp, kl)?);
                let value = read(&c, vp, vl)?;
                map_change(c.data_mut(), map_type(map)?, |m| {
                    m.retain(|(k, _)| *k != key);
                    m.push((key, value));
                })
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C<'_>, map: i32, kp: i32, kl: i32, vp: i32, vl: i32| -> i32 {
            trace(&mut c, "proxy_add_header_map_value");
            let result = (|| {
                let key = lower(read_str(&c, kp, kl)?);
                let value = read(&c, vp, vl)?;
                map_change(c.data_mut(), map_type(map)?, |m| m.push((key, value)))
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_remove_header_map_value", |mut c: C<'_>, map: i32, kp: i32, kl: i32| -> i32 {
        trace(&mut c, "proxy_remove_header_map_value");
        let result = (|| {
            let key = lower(read_str(&c, kp, kl)?);
            map_change(c.data_mut(), map_type(map)?, |m| m.retain(|(k, _)| *k != key))
        })();
        status(result)
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, pp: i32, pl: i32, ptr_out: i32, size_out: i32| -> i32 {
            trace(&mut c, "proxy_get_property");
            let result = (|| {
                let path = abi::decode_path(&read(&c, pp, pl)?);
                let value = properties::get(c.data(), &path).ok_or(Status::NotFound)?;
                return_bytes(&mut c, &value, ptr_out, size_out)
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_set_property", |mut c: C<'_>, pp: i32, pl: i32, vp: i32, vl: i32| -> i32 {
        trace(&mut c, "proxy_set_property");
        let result = (|| {
            let path = abi::decode_path(&read(&c, pp, pl)?);
            let value = read(&c, vp, vl)?;
            let stream = c.data().stream.clone().ok_or(Status::NotFound)?;
            stream.borrow_mut().filter_state.insert(properties::filter_state_key(&path), value);
            Ok(())
        })();
        status(result)
    })?;
    add_shared(linker)?;
    add_streams(linker)?;
    add_callouts(linker)?;
    add_metrics(linker)?;
    Ok(())
}

fn add_shared(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, kp: i32, kl: i32, ptr_out: i32, size_out: i32, cas_out: i32| -> i32 {
            trace(&mut c, "proxy_get_shared_data");
            let result = (|| {
                let key = read_str(&c, kp, kl)?;
                let entry = c.data().world.borrow().shared_data.get(&key).cloned();
                let (value, cas) = entry.ok_or(Status::NotFound)?;
                return_bytes(&mut c, &value, ptr_out, size_out)?;
                write_u32(&mut c, cas_out, cas)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C<'_>, kp: i32, kl: i32, vp: i32, vl: i32, cas: i32| -> i32 {
            trace(&mut c, "proxy_set_shared_data");
            let result = (|| {
                let key = read_str(&c, kp, kl)?;
                let value = read(&c, vp, vl)?;
                let world = c.data().world.clone();
                let mut world = world.borrow_mut();
                let current = world.shared_data.get(&key).map(|(_, cas)| *cas);
                let cas = cas as u32;
                if cas != 0 && current.is_some_and(|current| current != cas) {
                    return Err(Status::CasMismatch);
                }
                let next = current.unwrap_or(0).wrapping_add(1).max(1);
                world.shared_data.insert(key, (value, next));
                Ok(())
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_register_shared_queue", |mut c: C<'_>, np: i32, nl: i32, id_out: i32| -> i32 {
        trace(&mut c, "proxy_register_shared_queue");
        let result = (|| {
            let name = read_str(&c, np, nl)?;
            let (vm_index, vm_id) = (c.data().vm_index, c.data().plugin.vm_id.clone());
            let world = c.data().world.clone();
            let id = {
                let mut world = world.borrow_mut();
                match world.queues.iter().position(|q| q.vm_id == vm_id && q.name == name) {
                    Some(index) => {
                        world.queues[index].owner_vm = vm_index;
                        index + 1
                    }
                    None => {
                        world.queues.push(Queue { owner_vm: vm_index, vm_id, name, items: Default::default() });
                        world.queues.len()
                    }
                }
            };
            write_u32(&mut c, id_out, id as u32)
        })();
        status(result)
    })?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: C<'_>, vp: i32, vl: i32, np: i32, nl: i32, id_out: i32| -> i32 {
            trace(&mut c, "proxy_resolve_shared_queue");
            let result = (|| {
                let mut vm_id = read_str(&c, vp, vl)?;
                if vm_id.is_empty() {
                    vm_id = c.data().plugin.vm_id.clone();
                }
                let name = read_str(&c, np, nl)?;
                let found = c.data().world.borrow().queues.iter().position(|q| q.vm_id == vm_id && q.name == name);
                write_u32(&mut c, id_out, found.ok_or(Status::NotFound)? as u32 + 1)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: C<'_>, id: i32, ptr_out: i32, size_out: i32| -> i32 {
            trace(&mut c, "proxy_dequeue_shared_queue");
            let result = (|| {
                let item = {
                    let world = c.data().world.clone();
                    let mut world = world.borrow_mut();
                    let queue = world.queues.get_mut((id as u32 as usize).wrapping_sub(1)).ok_or(Status::NotFound)?;
                    queue.items.pop_front().ok_or(Status::Empty)?
                };
                return_bytes(&mut c, &item, ptr_out, size_out)
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_enqueue_shared_queue", |mut c: C<'_>, id: i32, vp: i32, vl: i32| -> i32 {
        trace(&mut c, "proxy_enqueue_shared_queue");
        let result = (|| {
            let value = read(&c, vp, vl)?;
            let world = c.data().world.clone();
            let mut world = world.borrow_mut();
            let queue = world.queues.get_mut((id as u32 as usize).wrapping_sub(1)).ok_or(Status::NotFound)?;
            queue.items.push_back(value);
            c.data_mut().events.push(HostEvent::QueueReady { queue_id: id as u32 });
            Ok(())
        })();
        status(result)
    })?;
    Ok(())
}

fn add_streams(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("env", "proxy_continue_stream", |mut c: C<'_>, kind: i32| -> i32 {
        trace(&mut c, "proxy_continue_stream");
        let context_id = c.data().context_id;
        if kind > 1 {
            return Status::BadArgument as i32;
        }
        c.data_mut().events.push(HostEvent::Continue { context_id, response: kind == 1 });
        0
    })?;
    linker.func_wrap("env", "proxy_close_stream", |mut c: C<'_>, _kind: i32| -> i32 {
        trace(&mut c, "proxy_close_stream");
        let context_id = c.data().context_id;
        c.data_mut().events.push(HostEvent::Reset { context_id });
        0
    })?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C<'_>, code: i32, dp: i32, dl: i32, bp: i32, bl: i32, hp: i32, hl: i32, _grpc: i32| -> i32 {
            trace(&mut c, "proxy_send_local_response");
            let result = (|| {
                let details = read_str(&c, dp, dl)?;
                let body = read(&c, bp, bl)?;
                let headers = abi::decode_pairs(&read(&c, hp, hl)?).ok_or(Status::BadArgument)?;
                let headers = headers.into_iter().map(|(k, v)| (lower(k), v)).collect();
                let context_id = c.data().context_id;
                if c.data().stream.is_none() {
                    return Err(Status::NotFound);
                }
                c.data_mut().events.push(HostEvent::LocalReply {
                    context_id,
                    status: code as u32,
                    details,
                    body,
                    headers,
                });
                Ok(())
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_set_effective_context", |mut c: C<'_>, context_id: i32| -> i32 {
        trace(&mut c, "proxy_set_effective_context");
        c.data_mut().context_id = context_id as u32;
        0
    })?;
    linker.func_wrap("env", "proxy_done", |mut c: C<'_>| -> i32 {
        trace(&mut c, "proxy_done");
        0
    })?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: C<'_>, _np: i32, _nl: i32, _ap: i32, _al: i32, _rp: i32, _rl: i32| -> i32 {
            trace(&mut c, "proxy_call_foreign_function");
            Status::NotFound as i32
        },
    )?;
    Ok(())
}

fn next_token(c: &mut C<'_>) -> u32 {
    let mut world = c.data().world.borrow_mut();
    world.next_token += 1;
    world.next_token
}

fn add_callouts(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C<'_>,
         up: i32,
         ul: i32,
         hp: i32,
         hl: i32,
         bp: i32,
         bl: i32,
         _tp: i32,
         _tl: i32,
         timeout: i32,
         token_out: i32|
         -> i32 {
            trace(&mut c, "proxy_http_call");
            let result = (|| {
                let cluster = read_str(&c, up, ul)?;
                let headers = abi::decode_pairs(&read(&c, hp, hl)?).ok_or(Status::BadArgument)?;
                let headers: Pairs = headers.into_iter().map(|(k, v)| (lower(k), v)).collect();
                let body = read(&c, bp, bl)?;
                if !c.data().world.borrow().clusters.contains(&cluster) {
                    return Err(Status::BadArgument);
                }
                let has = |name: &str| headers.iter().any(|(k, _)| k == name);
                if !has(":path") || !has(":method") || !has(":authority") {
                    return Err(Status::BadArgument);
                }
                let token = next_token(&mut c);
                let context_id = c.data().context_id;
                let timeout_ms = timeout as u32 as u64;
                c.data_mut().events.push(HostEvent::HttpCall { token, context_id, cluster, headers, body, timeout_ms });
                write_u32(&mut c, token_out, token)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut c: C<'_>,
         up: i32,
         ul: i32,
         _sp: i32,
         _sl: i32,
         _mp: i32,
         _ml: i32,
         _ip: i32,
         _il: i32,
         _msgp: i32,
         _msgl: i32,
         timeout: i32,
         token_out: i32|
         -> i32 {
            trace(&mut c, "proxy_grpc_call");
            let result = (|| {
                let cluster = read_str(&c, up, ul)?;
                if !c.data().world.borrow().clusters.contains(&cluster) {
                    return Err(Status::ParseFailure);
                }
                let token = next_token(&mut c);
                let context_id = c.data().context_id;
                c.data_mut().events.push(HostEvent::GrpcCall {
                    token,
                    context_id,
                    cluster,
                    timeout_ms: timeout as u32 as u64,
                });
                write_u32(&mut c, token_out, token)
            })();
            status(result)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut c: C<'_>,
         _up: i32,
         _ul: i32,
         _sp: i32,
         _sl: i32,
         _mp: i32,
         _ml: i32,
         _ip: i32,
         _il: i32,
         _out: i32|
         -> i32 {
            trace(&mut c, "proxy_grpc_stream");
            Status::Unimplemented as i32
        },
    )?;
    linker.func_wrap("env", "proxy_grpc_send", |mut c: C<'_>, _t: i32, _p: i32, _l: i32, _e: i32| -> i32 {
        trace(&mut c, "proxy_grpc_send");
        Status::NotFound as i32
    })?;
    linker.func_wrap("env", "proxy_grpc_cancel", |mut c: C<'_>, _t: i32| -> i32 {
        trace(&mut c, "proxy_grpc_cancel");
        Status::NotFound as i32
    })?;
    linker.func_wrap("env", "proxy_grpc_close", |mut c: C<'_>, _t: i32| -> i32 {
        trace(&mut c, "proxy_grpc_close");
        Status::NotFound as i32
    })?;
    linker.func_wrap("env", "proxy_get_status", |mut c: C<'_>, code_out: i32, ptr_out: i32, size_out: i32| -> i32 {
        trace(&mut c, "proxy_get_status");
        let result = (|| {
            write_u32(&mut c, code_out, 14)?;
            return_bytes(&mut c, b"upstream unavailable", ptr_out, size_out)
        })();
        status(result)
    })?;
    Ok(())
}

fn add_metrics(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: i32, np: i32, nl: i32, id_out: i32| -> i32 {
            trace(&mut c, "proxy_define_metric");
            let result = (|| {
                let kind = MetricKind::from_raw(kind as u32).ok_or(Status::BadArgument)?;
                let name = read_str(&c, np, nl)?;
                let world = c.data().world.clone();
                let id = {
                    let mut world = world.borrow_mut();
                    match world.metrics.iter().position(|m| m.kind == kind && m.name == name) {
                        Some(index) => index + 1,
                        None => {
                            world.metrics.push(Metric { kind, name, value: 0, samples: Vec::new() });
                            world.metrics.len()
                        }
                    }
                };
                write_u32(&mut c, id_out, id as u32)
            })();
            status(result)
        },
    )?;
    linker.func_wrap("env", "proxy_increment_metric", |mut c: C<'_>, id: i32, offset: i64| -> i32 {
        trace(&mut c, "proxy_increment_metric");
        let world = c.data().world.clone();
        let mut world = world.borrow_mut();
        let result = metric_mut(&mut world.metrics, id).and_then(|m| match m.kind {
            MetricKind::Counter if offset < 0 => Err(Status::BadArgument),
            MetricKind::Histogram => Err(Status::BadArgument),
            _ => {
                m.value = m.value.saturating_add(offset);
                Ok(())
            }
        });
        status(result)
    })?;
    linker.func_wrap("env", "proxy_record_metric", |mut c: C<'_>, id: i32, value: i64| -> i32 {
        trace(&mut c, "proxy_record_metric");
        let world = c.data().world.clone();
        let mut world = world.borrow_mut();
        let result = metric_mut(&mut world.metrics, id).map(|m| match m.kind {
            MetricKind::Histogram => m.samples.push(value as u64),
            _ => m.value = value,
        });
        status(result)
    })?;
    linker.func_wrap("env", "proxy_get_metric", |mut c: C<'_>, id: i32, out: i32| -> i32 {
        trace(&mut c, "proxy_get_metric");
        let result = (|| {
            let value = {
                let world = c.data().world.clone();
                let mut world = world.borrow_mut();
                let metric = metric_mut(&mut world.metrics, id)?;
                if metric.kind == MetricKind::Histogram {
                    return Err(Status::BadArgument);
                }
                metric.value as u64
            };
            write_u64(&mut c, out, value)
        })();
        status(result)
    })?;
    Ok(())
}
