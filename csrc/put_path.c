/* rmqcore.store._put_path: MessageStore.put's and put_batch's common case, one C call each.
 *
 * Why: a 128-byte put cost ~1.3 us, of which the C put (encode, CRC, ConsumeQueue entry)
 * was ~0.1 us. The rest was the interpreter: ~0.35 us converting the cffi call's eleven
 * arguments, a second cffi call for the clock, one for the queue offset, the store lock's
 * two method calls, the dict look-ups and the result tuple. A 64-message put_batch spent
 * ~2 us of its ~3.4 us outside the C put the same way (a 21-argument cffi call). Here one
 * METH_FASTCALL call reads the Message's slots (for a batch, _batch_gather.gather does),
 * finds the cached property bytes and the queue, reads the clock, takes the store lock,
 * calls the cffi library's rmq_put_simple or rmq_put_batch through its address and builds
 * the PutResult.
 *
 * It runs only what MessageStore.put / put_batch would run, in the same order: the same
 * property cache (a lone TAGS property, or none), the same put target, the same clock, the
 * store's own lock (its bound acquire/release, so every other put path still excludes this
 * one). Whatever is not the plain case declines (returns None) before anything is written,
 * and the store does it in the interpreter, with its errors: not exactly a Message, a body
 * that is not exactly bytes (or, for one put, is over FAST_BODY_MAX), a flag outside int32,
 * properties other than none or a cached lone TAGS (for a batch: the same on every
 * message), a queue not created yet, the schedule topic, or a store that is closed or
 * refusing puts (disk full). Under SYNC_FLUSH the store waits for the put's group commit
 * after this returns, with the GIL released.
 *
 * The put keeps the GIL, as the cffi calls do (build_native.KEEP_GIL): a single body is at
 * most FAST_BODY_MAX here and a batch is what one put_batch call copies anyway.
 */
#include "py_objects.h"

/* larger bodies take the interpreter's path (its cost is small next to the copy) */
#define FAST_BODY_MAX (64 * 1024)

typedef int64_t (*put_simple_fn)(void *cl, void *cq, const char *body, int32_t body_len, const char *props,
                                 int32_t props_len, int32_t flag, int64_t store_ts, int64_t tag_code,
                                 const char *keys, int32_t keys_len);
/* rmq_put_batch (commitlog.h) */
typedef int64_t (*put_batch_fn)(void *cl, void *cq, int32_t n, const char *bodies, const int32_t *body_lens,
                                const char *body_refs, const char *props, const int32_t *props_lens,
                                const int32_t *flags, const int64_t *tag_codes, const char *keys,
                                const int32_t *keys_lens, int32_t sys_flag, int64_t born_ts, const char *born_host,
                                int32_t born_host_len, int64_t store_ts, int32_t uniform_props_len,
                                int64_t uniform_tag_code, int32_t uniform_keys_len, int64_t *phys_out);
typedef int64_t (*now_fn)(void);

enum { M_TOPIC, M_BODY, M_FLAG, M_PROPERTIES, M_COUNT };
static const char *const message_slots[M_COUNT] = {"topic", "body", "flag", "properties"};
enum { T_ADDR, T_OVERHEAD, T_SCHEDULE, T_COUNT };
static const char *const target_slots[T_COUNT] = {"addr", "overhead", "schedule"};

static PyTypeObject *message_type = NULL, *target_type = NULL;
static Py_ssize_t message_offset[M_COUNT], target_offset[T_COUNT];
static PyObject *tags_key = NULL; /* "TAGS" */

static inline PyObject *slot(PyObject *obj, const Py_ssize_t *offsets, int which) {
    return *(PyObject **)((char *)obj + offsets[which]);
}

typedef struct {
    PyObject_HEAD
    put_simple_fn put_simple;
    put_batch_fn put_batch;
    now_fn system_now;
    void *cl;
    const int64_t *last_queue_offset;
    PyObject *acquire, *release; /* the store lock's bound methods */
    PyObject *targets;           /* MessageStore._targets: (topic, queue_id) -> _PutTarget */
    PyObject *tag_cache;         /* tags -> (property bytes, tag code, index keys) */
    PyTypeObject *result_type;   /* PutResult */
    PyObject *status_ok, *store_host;
    PyObject *put_failed; /* message_store._put_failed(rc, topic, store_host, n) */
    PyObject *notify;     /* message_store._notify_listeners(listeners, topic, queue_id, queue_offset) */
    PyObject *gather;     /* _batch_gather.gather, or None: batches then take the interpreter's path */
    PyObject *offsets_of; /* message_store._offsets_from: bytes of int64 -> the batch's offsets sequence */
    PyObject *listeners;  /* the store's listener list (put calls notify when not empty) */
    PyObject *now;        /* None: the system clock read in C; else the store clock's now_ms */
    Py_ssize_t max_body;
    Py_ssize_t max_props;
    int enabled; /* open and not refusing: set by the store under its lock */
} PutPath;

static PyObject *bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyType_Check(args[0]) || !PyType_Check(args[1]) || !PyUnicode_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "bind(Message, _PutTarget, tags_key) takes two classes and a str");
        return NULL;
    }
    Py_ssize_t m[M_COUNT], t[T_COUNT];
    if (rmq_slot_offsets((PyTypeObject *)args[0], message_slots, M_COUNT, m) < 0) return NULL;
    if (rmq_slot_offsets((PyTypeObject *)args[1], target_slots, T_COUNT, t) < 0) return NULL;
    memcpy(message_offset, m, sizeof m);
    memcpy(target_offset, t, sizeof t);
    Py_XSETREF(message_type, (PyTypeObject *)Py_NewRef(args[0]));
    Py_XSETREF(target_type, (PyTypeObject *)Py_NewRef(args[1]));
    Py_XSETREF(tags_key, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static int as_address(PyObject *v, void **out) {
    *out = PyLong_AsVoidPtr(v);
    return (*out == NULL && PyErr_Occurred()) ? -1 : 0;
}

static int PutPath_init(PutPath *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"put_simple", "put_batch", "system_now", "commitlog", "last_queue_offset", "lock",
                             "targets", "tag_cache", "result_type", "status_ok", "store_host", "put_failed",
                             "notify", "gather", "offsets_of", "max_body", "max_props", NULL};
    PyObject *put_simple, *put_batch, *system_now, *cl, *lqo, *lock, *targets, *tag_cache, *result_type, *status_ok,
        *store_host, *put_failed, *notify, *gather, *offsets_of;
    Py_ssize_t max_body, max_props;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOO!O!O!OOOOOOnn:PutPath", kwlist, &put_simple, &put_batch,
                                     &system_now, &cl, &lqo, &lock, &PyDict_Type, &targets, &PyDict_Type,
                                     &tag_cache, &PyType_Type, &result_type, &status_ok, &store_host, &put_failed,
                                     &notify, &gather, &offsets_of, &max_body, &max_props))
        return -1;
    if (!PyType_IsSubtype((PyTypeObject *)result_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "result_type must be a tuple subclass (PutResult)");
        return -1;
    }
    void *fn, *batch_fn, *now, *c, *q;
    if (as_address(put_simple, &fn) < 0 || as_address(put_batch, &batch_fn) < 0 ||
        as_address(system_now, &now) < 0 || as_address(cl, &c) < 0 || as_address(lqo, &q) < 0)
        return -1;
    if (fn == NULL || batch_fn == NULL || now == NULL || c == NULL || q == NULL) {
        PyErr_SetString(PyExc_ValueError, "PutPath needs non-null C addresses");
        return -1;
    }
    PyObject *acquire = PyObject_GetAttrString(lock, "acquire");
    PyObject *release = acquire ? PyObject_GetAttrString(lock, "release") : NULL;
    if (release == NULL) {
        Py_XDECREF(acquire);
        return -1;
    }
    self->put_simple = (put_simple_fn)fn;
    self->put_batch = (put_batch_fn)batch_fn;
    self->system_now = (now_fn)now;
    self->cl = c;
    self->last_queue_offset = q;
    Py_XSETREF(self->acquire, acquire);
    Py_XSETREF(self->release, release);
    Py_XSETREF(self->targets, Py_NewRef(targets));
    Py_XSETREF(self->tag_cache, Py_NewRef(tag_cache));
    Py_XSETREF(self->result_type, (PyTypeObject *)Py_NewRef(result_type));
    Py_XSETREF(self->status_ok, Py_NewRef(status_ok));
    Py_XSETREF(self->store_host, Py_NewRef(store_host));
    Py_XSETREF(self->put_failed, Py_NewRef(put_failed));
    Py_XSETREF(self->notify, Py_NewRef(notify));
    Py_XSETREF(self->gather, Py_NewRef(gather));
    Py_XSETREF(self->offsets_of, Py_NewRef(offsets_of));
    if (self->listeners == NULL) self->listeners = PyList_New(0);
    if (self->now == NULL) self->now = Py_NewRef(Py_None);
    self->max_body = max_body;
    self->max_props = max_props;
    self->enabled = 0;
    return self->listeners ? 0 : -1;
}

static int fits_int32(PyObject *v, int32_t *out) {
    int overflow = 0;
    long x = PyLong_AsLongAndOverflow(v, &overflow);
    if (overflow || x < INT32_MIN || x > INT32_MAX) {
        PyErr_Clear();
        return 0;
    }
    *out = (int32_t)x;
    return 1;
}

/* What a put needs of a message's properties, from the same cache MessageStore.put uses. */
typedef struct {
    PyObject *held; /* the cache's (props, code, keys) tuple, held while its bytes are used */
    const char *props, *keys;
    Py_ssize_t props_len, keys_len;
    int64_t code;
} put_meta;

/* Properties none, or a lone TAGS whose encoding is cached: 1 and *out filled; 0 to
 * decline; -1 with an exception. The dict is held across the look-up, which can run Python
 * code (a str subclass key's __eq__). */
static int find_meta(PutPath *self, PyObject *props, put_meta *out) {
    *out = (put_meta){NULL, "", "", 0, 0, 0};
    Py_ssize_t nprops = PyDict_GET_SIZE(props);
    if (nprops == 0) return 1;
    if (nprops != 1) return 0;
    Py_INCREF(props);
    PyObject *tags = PyDict_GetItemWithError(props, tags_key);
    Py_XINCREF(tags);
    Py_DECREF(props);
    if (tags == NULL) return PyErr_Occurred() ? -1 : 0;
    PyObject *meta = PyUnicode_CheckExact(tags) ? PyDict_GetItemWithError(self->tag_cache, tags) : NULL;
    Py_DECREF(tags);
    if (meta == NULL) return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_CheckExact(meta) || PyTuple_GET_SIZE(meta) != 3) return 0;
    PyObject *p = PyTuple_GET_ITEM(meta, 0), *c = PyTuple_GET_ITEM(meta, 1), *k = PyTuple_GET_ITEM(meta, 2);
    if (!PyBytes_CheckExact(p) || !PyLong_CheckExact(c) || !PyBytes_CheckExact(k)) return 0;
    int overflow = 0;
    int64_t code = PyLong_AsLongLongAndOverflow(c, &overflow);
    if (overflow || (code == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    if (PyBytes_GET_SIZE(p) > self->max_props || PyBytes_GET_SIZE(k) > INT32_MAX) return 0;
    *out = (put_meta){Py_NewRef(meta), PyBytes_AS_STRING(p), PyBytes_AS_STRING(k), PyBytes_GET_SIZE(p),
                      PyBytes_GET_SIZE(k), code};
    return 1;
}

/* The queue's C ConsumeQueue and record overhead: 1; 0 to decline (queue not created yet, or
 * the schedule topic, whose tag code is a delivery time); -1 with an exception. Exact str
 * and int keys: the look-up runs no Python code. */
static int find_target(PutPath *self, PyObject *topic, PyObject *queue_id, void **cq, Py_ssize_t *overhead) {
    PyObject *key = PyTuple_Pack(2, topic, queue_id);
    if (key == NULL) return -1;
    PyObject *target = PyDict_GetItemWithError(self->targets, key);
    Py_DECREF(key);
    if (target == NULL) return PyErr_Occurred() ? -1 : 0;
    if (Py_TYPE(target) != target_type) return 0;
    PyObject *addr = slot(target, target_offset, T_ADDR), *overhead_obj = slot(target, target_offset, T_OVERHEAD);
    PyObject *schedule = slot(target, target_offset, T_SCHEDULE);
    if (addr == NULL || overhead_obj == NULL || schedule != Py_False || !PyLong_CheckExact(overhead_obj)) return 0;
    *cq = PyLong_AsVoidPtr(addr);
    *overhead = PyLong_AsSsize_t(overhead_obj);
    if ((*cq == NULL || *overhead < 0) && PyErr_Occurred()) return -1;
    return 1;
}

static int read_now(PutPath *self, int64_t *now) {
    if (self->now == Py_None) {
        *now = self->system_now();
        return 0;
    }
    PyObject *t = PyObject_CallNoArgs(self->now);
    if (t == NULL) return -1;
    *now = PyLong_AsLongLong(t);
    Py_DECREF(t);
    return (*now == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int call_lock(PyObject *method) {
    PyObject *r = PyObject_CallNoArgs(method);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* Take the store lock: 1 held and the store still open; 0 not held (closed or refusing
 * since the caller checked, so decline); -1 with an exception. */
static int lock_open_store(PutPath *self) {
    if (call_lock(self->acquire) < 0) return -1;
    if (self->enabled) return 1;
    return call_lock(self->release) < 0 ? -1 : 0;
}

/* After the put: listeners, then the PutResult (status PUT_OK). Steals `offsets`. */
static PyObject *finish(PutPath *self, PyObject *topic, PyObject *queue_id, int64_t first_phys,
                        int64_t queue_offset, Py_ssize_t n, int64_t wrote, int64_t now, PyObject *offsets,
                        int64_t end) {
    PyObject *items[10] = {
        Py_NewRef(self->status_ok), PyLong_FromLongLong(first_phys), PyLong_FromLongLong(queue_offset),
        PyLong_FromLongLong(wrote), PyLong_FromLongLong(now), Py_NewRef(self->store_host), PyLong_FromSsize_t(n),
        offsets, Py_NewRef(Py_None), PyLong_FromLongLong(end),
    };
    PyObject *result = NULL;
    for (int i = 0; i < 10; i++)
        if (items[i] == NULL) goto fail;
    if (PyList_Check(self->listeners) && PyList_GET_SIZE(self->listeners) > 0) {
        PyObject *last = n == 1 ? Py_NewRef(items[2]) : PyLong_FromLongLong(queue_offset + n - 1);
        PyObject *r = last ? PyObject_CallFunctionObjArgs(self->notify, self->listeners, topic, queue_id, last, NULL)
                           : NULL;
        Py_XDECREF(last);
        if (r == NULL) goto fail;
        Py_DECREF(r);
    }
    result = self->result_type->tp_alloc(self->result_type, 10);
    if (result == NULL) goto fail;
    for (int i = 0; i < 10; i++) PyTuple_SET_ITEM(result, i, items[i]);
    return result;
fail:
    for (int i = 0; i < 10; i++) Py_XDECREF(items[i]);
    return NULL;
}

/* put(msg, queue_id) -> PutResult, or None to decline (nothing written). */
static PyObject *PutPath_put(PutPath *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "put(msg, queue_id) takes two arguments");
        return NULL;
    }
    PyObject *msg = args[0], *queue_id = args[1];
    if (!self->enabled || message_type == NULL || Py_TYPE(msg) != message_type || !PyLong_CheckExact(queue_id))
        Py_RETURN_NONE;
    PyObject *topic = slot(msg, message_offset, M_TOPIC), *body = slot(msg, message_offset, M_BODY);
    PyObject *flag_obj = slot(msg, message_offset, M_FLAG), *props = slot(msg, message_offset, M_PROPERTIES);
    if (topic == NULL || body == NULL || flag_obj == NULL || props == NULL || !PyUnicode_CheckExact(topic) ||
        !PyBytes_CheckExact(body) || !PyLong_CheckExact(flag_obj) || !PyDict_CheckExact(props))
        Py_RETURN_NONE;
    Py_ssize_t blen = PyBytes_GET_SIZE(body);
    int32_t flag;
    if (blen > self->max_body || blen > FAST_BODY_MAX || !fits_int32(flag_obj, &flag)) Py_RETURN_NONE;

    /* Held from here: the look-ups below, the clock and a contended lock can run other
     * threads, which may rebind this message's fields. */
    Py_INCREF(topic);
    Py_INCREF(body);
    PyObject *out = NULL;
    put_meta meta;
    void *cq;
    Py_ssize_t overhead;
    int64_t now;
    int found = find_meta(self, props, &meta);
    if (found > 0) found = find_target(self, topic, queue_id, &cq, &overhead);
    if (found > 0) found = read_now(self, &now) < 0 ? -1 : 1;
    if (found > 0) found = lock_open_store(self);
    if (found <= 0) {
        out = found < 0 ? NULL : Py_NewRef(Py_None);
        goto done;
    }
    int64_t phys = self->put_simple(self->cl, cq, PyBytes_AS_STRING(body), (int32_t)blen, meta.props,
                                    (int32_t)meta.props_len, flag, now, meta.code, meta.keys, (int32_t)meta.keys_len);
    int64_t queue_offset = *self->last_queue_offset;
    if (call_lock(self->release) < 0) goto done;
    if (phys < 0) {
        out = PyObject_CallFunction(self->put_failed, "LOOn", (long long)phys, topic, self->store_host, (Py_ssize_t)1);
        goto done;
    }
    int64_t wrote = (int64_t)overhead + blen + meta.props_len;
    out = finish(self, topic, queue_id, phys, queue_offset, 1, wrote, now, Py_NewRef(Py_None), phys + wrote);
done:
    Py_XDECREF(meta.held);
    Py_DECREF(topic);
    Py_DECREF(body);
    return out;
}

/* put_batch(msgs, queue_id) -> PutResult, or None to decline (nothing written): the batch
 * gathered by _batch_gather.gather, its properties one dict that find_meta takes. */
static PyObject *PutPath_put_batch(PutPath *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "put_batch(msgs, queue_id) takes two arguments");
        return NULL;
    }
    PyObject *msgs = args[0], *queue_id = args[1];
    if (!self->enabled || message_type == NULL || self->gather == Py_None || !PyLong_CheckExact(queue_id) ||
        !(PyList_CheckExact(msgs) || PyTuple_CheckExact(msgs))) /* what gather takes, and read below */
        Py_RETURN_NONE;
    PyObject *gathered = PyObject_CallOneArg(self->gather, msgs);
    if (gathered == NULL || gathered == Py_None) return gathered;
    if (!PyTuple_CheckExact(gathered) || PyTuple_GET_SIZE(gathered) != 5 ||
        !PyBytes_CheckExact(PyTuple_GET_ITEM(gathered, 0)) || !PyTuple_CheckExact(PyTuple_GET_ITEM(gathered, 1)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(gathered, 1)) == 0) {
        Py_DECREF(gathered);
        PyErr_SetString(PyExc_TypeError, "gather() must answer (refs, bodies, total, largest, props) or None");
        return NULL;
    }
    PyObject *out = NULL, *topic = NULL, *phys_bytes = NULL;
    put_meta meta = {NULL, "", "", 0, 0, 0};
    /* (refs, keep, body_total, max_body_len, props): keep holds the bodies refs points into */
    PyObject *refs = PyTuple_GET_ITEM(gathered, 0), *keep = PyTuple_GET_ITEM(gathered, 1);
    PyObject *props = PyTuple_GET_ITEM(gathered, 4);
    Py_ssize_t n = PyTuple_GET_SIZE(keep);
    Py_ssize_t body_total = PyLong_AsSsize_t(PyTuple_GET_ITEM(gathered, 2));
    Py_ssize_t max_len = PyLong_AsSsize_t(PyTuple_GET_ITEM(gathered, 3));
    if (PyErr_Occurred()) goto done;
    if (!PyDict_CheckExact(props) || max_len > self->max_body || n > INT32_MAX) goto decline;
    /* the first message's topic, as MessageStore.put_batch reads it after gathering */
    PyObject *first = PySequence_Fast_GET_SIZE(msgs) > 0 ? PySequence_Fast_ITEMS(msgs)[0] : NULL;
    if (first == NULL || Py_TYPE(first) != message_type) goto decline;
    topic = slot(first, message_offset, M_TOPIC);
    if (topic == NULL || !PyUnicode_CheckExact(topic)) goto decline;
    Py_INCREF(topic);
    void *cq;
    Py_ssize_t overhead;
    int64_t now;
    int found = find_meta(self, props, &meta);
    if (found > 0) found = find_target(self, topic, queue_id, &cq, &overhead);
    if (found > 0) {
        phys_bytes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
        found = phys_bytes == NULL ? -1 : read_now(self, &now) < 0 ? -1 : 1;
    }
    if (found > 0) found = lock_open_store(self);
    if (found < 0) goto done;
    if (found == 0) goto decline;
    int64_t *phys = (int64_t *)PyBytes_AS_STRING(phys_bytes);
    int64_t rc = self->put_batch(self->cl, cq, (int32_t)n, NULL, NULL, PyBytes_AS_STRING(refs),
                                 meta.props_len ? meta.props : NULL, NULL, NULL, NULL,
                                 meta.keys_len ? meta.keys : NULL, NULL, 0, now, NULL, 0, now,
                                 (int32_t)meta.props_len, meta.code, (int32_t)meta.keys_len, phys);
    int64_t queue_offset = *self->last_queue_offset;
    if (call_lock(self->release) < 0) goto done;
    if (rc < 0) {
        out = PyObject_CallFunction(self->put_failed, "LOOn", (long long)rc, topic, self->store_host, n);
        goto done;
    }
    int64_t first_phys = phys[0];
    int64_t end = phys[n - 1] + overhead + PyBytes_GET_SIZE(PyTuple_GET_ITEM(keep, n - 1)) + meta.props_len;
    int64_t wrote = (int64_t)overhead * n + body_total + meta.props_len * n;
    PyObject *offsets = PyObject_CallOneArg(self->offsets_of, phys_bytes);
    if (offsets == NULL) goto done;
    out = finish(self, topic, queue_id, first_phys, queue_offset, n, wrote, now, offsets, end);
    goto done;
decline:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(meta.held);
    Py_XDECREF(phys_bytes);
    Py_XDECREF(topic);
    Py_DECREF(gathered);
    return out;
}

static int PutPath_traverse(PutPath *self, visitproc visit, void *arg) {
    Py_VISIT(self->acquire);
    Py_VISIT(self->release);
    Py_VISIT(self->targets);
    Py_VISIT(self->tag_cache);
    Py_VISIT(self->result_type);
    Py_VISIT(self->status_ok);
    Py_VISIT(self->store_host);
    Py_VISIT(self->put_failed);
    Py_VISIT(self->notify);
    Py_VISIT(self->gather);
    Py_VISIT(self->offsets_of);
    Py_VISIT(self->listeners);
    Py_VISIT(self->now);
    return 0;
}

static int PutPath_clear(PutPath *self) {
    self->enabled = 0;
    Py_CLEAR(self->acquire);
    Py_CLEAR(self->release);
    Py_CLEAR(self->targets);
    Py_CLEAR(self->tag_cache);
    Py_CLEAR(self->result_type);
    Py_CLEAR(self->status_ok);
    Py_CLEAR(self->store_host);
    Py_CLEAR(self->put_failed);
    Py_CLEAR(self->notify);
    Py_CLEAR(self->gather);
    Py_CLEAR(self->offsets_of);
    Py_CLEAR(self->listeners);
    Py_CLEAR(self->now);
    return 0;
}

static void PutPath_dealloc(PutPath *self) {
    PyObject_GC_UnTrack(self);
    PutPath_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* the setters keep put's invariants: listeners a list, now None or callable */
static PyObject *get_listeners(PutPath *self, void *closure) { return Py_NewRef(self->listeners); }
static int set_listeners(PutPath *self, PyObject *value, void *closure) {
    if (value == NULL || !PyList_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "listeners must be a list");
        return -1;
    }
    Py_XSETREF(self->listeners, Py_NewRef(value));
    return 0;
}
static PyObject *get_now(PutPath *self, void *closure) { return Py_NewRef(self->now); }
static int set_now(PutPath *self, PyObject *value, void *closure) {
    if (value == NULL || (value != Py_None && !PyCallable_Check(value))) {
        PyErr_SetString(PyExc_TypeError, "now must be None (the system clock) or a callable returning ms");
        return -1;
    }
    Py_XSETREF(self->now, Py_NewRef(value));
    return 0;
}
static PyObject *get_enabled(PutPath *self, void *closure) { return PyBool_FromLong(self->enabled); }
static int set_enabled(PutPath *self, PyObject *value, void *closure) {
    int v = value ? PyObject_IsTrue(value) : -1;
    if (v < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "enabled cannot be deleted");
        return -1;
    }
    self->enabled = v && self->acquire != NULL;
    return 0;
}

static PyGetSetDef PutPath_getset[] = {
    {"listeners", (getter)get_listeners, (setter)set_listeners, "The store's dispatch listeners.", NULL},
    {"now", (getter)get_now, (setter)set_now, "None (system clock, read in C) or the store clock's now_ms.", NULL},
    {"enabled", (getter)get_enabled, (setter)set_enabled, "Whether put() may store (else it declines).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef PutPath_methods[] = {
    {"put", (PyCFunction)(void (*)(void))PutPath_put, METH_FASTCALL,
     "put(msg, queue_id) -> PutResult, or None to decline (nothing written): see MessageStore.put."},
    {"put_batch", (PyCFunction)(void (*)(void))PutPath_put_batch, METH_FASTCALL,
     "put_batch(msgs, queue_id) -> PutResult, or None to decline (nothing written): see MessageStore.put_batch."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PutPath_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rmqcore.store._put_path.PutPath",
    .tp_basicsize = sizeof(PutPath),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "MessageStore.put's common case in C (see csrc/put_path.c).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)PutPath_init,
    .tp_dealloc = (destructor)PutPath_dealloc,
    .tp_traverse = (traverseproc)PutPath_traverse,
    .tp_clear = (inquiry)PutPath_clear,
    .tp_methods = PutPath_methods,
    .tp_getset = PutPath_getset,
};

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(Message, _PutTarget, tags_key): the classes whose exact instances put() reads."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "rmqcore.store._put_path",
    "MessageStore.put's common case in one C call.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__put_path(void) {
    if (PyType_Ready(&PutPath_Type) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "PutPath", (PyObject *)&PutPath_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
