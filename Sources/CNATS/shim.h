#ifndef DAYBOOK_CNATS_SHIM_H
#define DAYBOOK_CNATS_SHIM_H
// Debian's libnats-dev (cnats 3.4). Only the DaybookSources target imports this module.
#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

// Small helpers over the parts of cnats that are awkward from Swift: configuration structs with
// many `const char *` fields (filled here from arguments that stay valid for the call) and C
// callbacks. Every helper returns cnats's own status; nothing here owns memory.

/// Counts the connection events the callbacks below see (read with the `daybook_load` helpers).
typedef struct daybook_nats_events {
    int64_t disconnects;
    int64_t reconnects;
    int64_t connects;
    int64_t async_publish_errors;
    /// Asynchronous publishes the stream answered "duplicate message id is in process" (10158):
    /// a clustered stream is storing another publish with the same Nats-Msg-Id right now. Not an
    /// error of this publish: the other one's outcome (its ack, or its own error) covers the message.
    int64_t async_publish_in_process;
    /// The last failed asynchronous publish: cnats's status and the JetStream error code (0: none).
    int64_t last_publish_status;
    int64_t last_publish_code;
} daybook_nats_events;

static inline int64_t daybook_load(int64_t *counter) { return __atomic_load_n(counter, __ATOMIC_SEQ_CST); }

static void daybook_on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    __atomic_fetch_add(&((daybook_nats_events *)closure)->disconnects, 1, __ATOMIC_SEQ_CST);
}

static void daybook_on_reconnected(natsConnection *nc, void *closure) {
    (void)nc;
    __atomic_fetch_add(&((daybook_nats_events *)closure)->reconnects, 1, __ATOMIC_SEQ_CST);
}

static void daybook_on_connected(natsConnection *nc, void *closure) {
    (void)nc;
    __atomic_fetch_add(&((daybook_nats_events *)closure)->connects, 1, __ATOMIC_SEQ_CST);
}

static void daybook_on_publish_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js;
    daybook_nats_events *events = (daybook_nats_events *)closure;
    if ((int)pae->ErrCode == 10158) {
        __atomic_fetch_add(&events->async_publish_in_process, 1, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_store_n(&events->last_publish_status, (int64_t)pae->Err, __ATOMIC_SEQ_CST);
    __atomic_store_n(&events->last_publish_code, (int64_t)pae->ErrCode, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&events->async_publish_errors, 1, __ATOMIC_SEQ_CST);
}

/// Options for a connection to any of `servers` (`count` URLs: the servers of one cluster) that
/// reconnects forever after a loss, every `reconnect_wait_ms`. `retry`: the first connect is
/// retried in the background too (`natsConnection_Connect` then returns `NATS_NOT_YET_CONNECTED`
/// at once when no server answers); false: it fails at once.
static inline natsStatus daybook_options(
    natsOptions **opts, const char **servers, int count, const char *name, int64_t reconnect_wait_ms,
    int64_t connect_timeout_ms, bool retry, daybook_nats_events *events)
{
    natsStatus s = natsOptions_Create(opts);
    if (s != NATS_OK) return s;
    natsOptions *o = *opts;
    // Not natsOptions_SetURL: it takes one URL, and "nats://a,nats://b" is no server at all.
    if (s == NATS_OK) s = natsOptions_SetServers(o, servers, count);
    if (s == NATS_OK) s = natsOptions_SetName(o, name);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, connect_timeout_ms);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, reconnect_wait_ms);
    // Acks and fetch requests made while disconnected wait in this buffer (8 MiB) until reconnect.
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, 8 * 1024 * 1024);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, daybook_on_disconnected, events);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, daybook_on_reconnected, events);
    if (s == NATS_OK && retry) s = natsOptions_SetRetryOnFailedConnect(o, true, daybook_on_connected, events);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        *opts = NULL;
    }
    return s;
}

/// A JetStream context whose API requests wait `wait_ms`; asynchronous publish failures are
/// counted in `events` (at most `max_pending` asynchronous publishes in flight).
static inline natsStatus daybook_jetstream(
    jsCtx **js, natsConnection *nc, int64_t wait_ms, int64_t max_pending, daybook_nats_events *events)
{
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = wait_ms;
    o.PublishAsync.MaxPending = max_pending;
    o.PublishAsync.ErrHandler = daybook_on_publish_error;
    o.PublishAsync.ErrHandlerClosure = events;
    return natsConnection_JetStream(js, nc, &o);
}

/// A durable pull consumer with explicit acks: every message is acknowledged on its own, and
/// redelivered `ack_wait_ns` after a delivery that was not. `start_seq` > 1 starts delivery at
/// that stream sequence (a checkpoint already stored), else at the stream's first message.
/// `filter` may be NULL (the whole stream).
static inline natsStatus daybook_add_pull_consumer(
    jsConsumerInfo **ci, jsCtx *js, const char *stream, const char *durable, const char *filter,
    int64_t max_ack_pending, int64_t ack_wait_ns, uint64_t start_seq, jsErrCode *jerr)
{
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = ack_wait_ns;
    cc.MaxAckPending = max_ack_pending;
    cc.FilterSubject = filter;
    if (start_seq > 1) {
        cc.DeliverPolicy = js_DeliverByStartSequence;
        cc.OptStartSeq = start_seq;
    } else {
        cc.DeliverPolicy = js_DeliverAll;
    }
    return js_AddConsumer(ci, js, stream, &cc, NULL, jerr);
}

/// A pull subscription bound to the existing durable `durable` of `stream`.
static inline natsStatus daybook_pull_subscribe_durable(
    natsSubscription **sub, jsCtx *js, const char *stream, const char *durable, jsErrCode *jerr)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Consumer = durable;
    return js_PullSubscribe(sub, js, NULL, durable, NULL, &so, jerr);
}

/// A pull subscription on a new ephemeral consumer of `stream` without acks, delivering from
/// stream sequence `start_seq` the messages matching `filter` (NULL: every subject of the
/// stream, `subject` then names one of them for the subscribe call). The server removes the
/// consumer `inactive_ns` after its last use, or when the subscription is unsubscribed.
static inline natsStatus daybook_pull_subscribe_from(
    natsSubscription **sub, jsCtx *js, const char *stream, const char *subject, const char *filter,
    uint64_t start_seq, int64_t inactive_ns, jsErrCode *jerr)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start_seq < 1 ? 1 : start_seq;
    so.Config.FilterSubject = filter;
    so.Config.InactiveThreshold = inactive_ns;
    return js_PullSubscribe(sub, js, subject, NULL, NULL, &so, jerr);
}

/// A stream on file (or memory) storage holding `subjects` (comma-free subjects, `count` of them),
/// deduplicating on `Nats-Msg-Id` within `duplicate_window_ns` (0: the server's default, 2 min),
/// keeping at most `max_msgs` messages (-1: no limit; the oldest go first).
static inline natsStatus daybook_add_stream(
    jsStreamInfo **si, jsCtx *js, const char *name, const char **subjects, int count, bool memory,
    int64_t duplicate_window_ns, int64_t replicas, int64_t max_msgs, jsErrCode *jerr)
{
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = count;
    sc.Storage = memory ? js_MemoryStorage : js_FileStorage;
    sc.Duplicates = duplicate_window_ns;
    sc.Replicas = replicas;
    sc.MaxMsgs = max_msgs;
    return js_AddStream(si, js, &sc, NULL, jerr);
}

/// Publishes `data` on `subject` with `Nats-Msg-Id: msg_id` (NULL: none) and waits for the
/// stream's acknowledgement.
static inline natsStatus daybook_publish(
    jsPubAck **pa, jsCtx *js, const char *subject, const void *data, int length, const char *msg_id,
    jsErrCode *jerr)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    return js_Publish(pa, js, subject, data, length, &po, jerr);
}

/// Publishes without waiting; failures are counted by the context's error handler.
static inline natsStatus daybook_publish_async(
    jsCtx *js, const char *subject, const void *data, int length, const char *msg_id)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    return js_PublishAsync(js, subject, data, length, &po);
}

/// Waits up to `timeout_ms` for every asynchronous publish to be acknowledged.
static inline natsStatus daybook_publish_async_complete(jsCtx *js, int64_t timeout_ms)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout_ms;
    return js_PublishAsyncComplete(js, &po);
}

/// Fetches up to `batch` messages, waiting up to `timeout_ms`; `NATS_TIMEOUT` when none came.
static inline natsStatus daybook_fetch(
    natsMsgList *list, natsSubscription *sub, int batch, int64_t timeout_ms, jsErrCode *jerr)
{
    return natsSubscription_Fetch(list, sub, batch, timeout_ms, jerr);
}

/// Takes message `i` out of `list` (the list no longer destroys it).
static inline natsMsg *daybook_take(natsMsgList *list, int i)
{
    natsMsg *m = list->Msgs[i];
    list->Msgs[i] = NULL;
    return m;
}

/// Creates (or, when one with the same configuration exists, binds to) the key-value bucket
/// `bucket`: `history` revisions per key kept, entries older than `ttl_ns` removed (0: never),
/// `replicas` copies, file storage.
static inline natsStatus daybook_kv_create(
    kvStore **kv, jsCtx *js, const char *bucket, int64_t history, int64_t ttl_ns, int64_t replicas)
{
    kvConfig c;
    kvConfig_Init(&c);
    c.Bucket = bucket;
    c.History = (uint8_t)history;
    c.TTL = ttl_ns;
    c.Replicas = (int)replicas;
    c.StorageType = js_FileStorage;
    return js_CreateKeyValue(kv, js, &c);
}

/// Deletes key `key` of bucket `bucket` only if its last revision is still `last`: a delete
/// marker published to the bucket's subject with the expected last subject sequence (what
/// `kvStore_Delete` does, minus the check cnats 3.4 lacks). `jerr` gets the JetStream error
/// (10071, wrong last sequence, when the key moved on).
static inline natsStatus daybook_kv_delete_at(
    jsCtx *js, const char *bucket, const char *key, uint64_t last, jsErrCode *jerr)
{
    char subject[512];
    int n = snprintf(subject, sizeof subject, "$KV.%s.%s", bucket, key);
    if (n < 0 || n >= (int)sizeof subject) return NATS_INVALID_ARG;
    natsMsg *msg = NULL;
    natsStatus s = natsMsg_Create(&msg, subject, NULL, NULL, 0);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
    jsPubOptions o;
    jsPubOptions_Init(&o);
    o.ExpectLastSubjectSeq = last;
    jsPubAck *ack = NULL;
    if (s == NATS_OK) s = js_PublishMsg(&ack, js, msg, &o, jerr);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    return s;
}

/// Removes the messages of `stream` below sequence `before` (retention cutting the log, in tests).
static inline natsStatus daybook_purge_before(jsCtx *js, const char *stream, uint64_t before, jsErrCode *jerr)
{
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Purge.Sequence = before;
    return js_PurgeStream(js, stream, &o, jerr);
}

#endif
