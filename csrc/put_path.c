/* rmqcore.store._put_path: MessageStore.put's common case in one C call.
 *
 * Why: a 128-byte put cost ~1.3 us, of which the C put (encode, CRC, ConsumeQueue entry)
 * was ~0.1 us. The rest was the interpreter: ~0.35 us converting the cffi call's eleven
 * arguments, a second cffi call for the clock, one for the queue offset, the store lock's
 * two method calls, the dict look-ups and the result tuple. Here one METH_FASTCALL call
 * reads the Message's slots, finds the cached property bytes and the queue, reads the
 * clock, takes the store lock, calls the cffi library's rmq_put_simple through its address
 * and builds the PutResult.
 *
 * It runs only what MessageStore.put would run, in the same order: the same property
 * cache (a lone TAGS property, or none), the same put target, the same clock, the store's
 * own lock (its bound acquire/release, so every other put path still excludes this one).
 * Whatever is not the plain case declines (returns None) before anything is written, and
 * MessageStore.put does it in the interpreter, with its errors: not exactly a Message,
 * a body that is not exactly bytes or is over FAST_BODY_MAX, a flag outside int32,
 * properties other than none or a cached lone TAGS, a queue not created yet, the schedule
 * topic, or a store that is closed or refusing puts (disk full). Under SYNC_FLUSH the
 * store waits for the put's group commit after this returns, with the GIL released.
 *
 * The put keeps the GIL, as the cffi call does (build_native.KEEP_GIL): bodies are at most
 * FAST_BODY_MAX here, so the copy takes microseconds.
 */
#include "py_objects.h"

/* larger bodies take the interpreter's path (its cost is small next to the copy) */
#define FAST_BODY_MAX (64 * 1024)

typedef int64_t (*put_simple_fn)(void *cl, void *cq, const char *body, int32_t body_len, const char *props,
                                 int32_t props_len, int32_t flag, int64_t store_ts, int64_t tag_code,
                                 const char *keys, int32_t keys_len);
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
    now_fn system_now;
    void *cl;
    const int64_t *last_queue_offset;
    PyObject *acquire, *release; /* the store lock's bound methods */
    PyObject *targets;           /* MessageStore._targets: (topic, queue_id) -> _PutTarget */
    PyObject *tag_cache;         /* tags -> (property bytes, tag code, index keys) */
    PyTypeObject *result_type;   /* PutResult */
    PyObject *status_ok, *store_host;
    PyObject *put_failed; /* message_store._put_failed(rc, topic, store_host) */
    PyObject *notify;     /* message_store._notify_listeners(listeners, topic, queue_id, queue_offset) */
    PyObject *listeners;  /* the store's listener list (put calls notify when not empty) */
    PyObject *now;        /* None: the system clock read in C; else the store clock's now_ms */
    Py_ssize_t max_body;
    Py_ssize_t max_props;
    int enabled; /* open, not refusing, not SYNC_FLUSH: set by the store under its lock */
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
    static char *kwlist[] = {"put_simple", "system_now", "commitlog", "last_queue_offset", "lock", "targets",
                             "tag_cache", "result_type", "status_ok", "store_host", "put_failed", "notify",
                             "max_body", "max_props", NULL};
    PyObject *put_simple, *system_now, *cl, *lqo, *lock, *targets, *tag_cache, *result_type, *status_ok, *store_host,
        *put_failed, *notify;
    Py_ssize_t max_body, max_props;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO!O!O!OOOOnn:PutPath", kwlist, &put_simple, &system_now, &cl,
                                     &lqo, &lock, &PyDict_Type, &targets, &PyDict_Type, &tag_cache, &PyType_Type,
                                     &result_type, &status_ok, &store_host, &put_failed, &notify, &max_body,
                                     &max_props))
        return -1;
    if (!PyType_IsSubtype((PyTypeObject *)result_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "result_type must be a tuple subclass (PutResult)");
        return -1;
    }
    void *fn, *now, *c, *q;
    if (as_address(put_simple, &fn) < 0 || as_address(system_now, &now) < 0 || as_address(cl, &c) < 0 ||
        as_address(lqo, &q) < 0)
        return -1;
    if (fn == NULL || now == NULL || c == NULL || q == NULL) {
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

    PyObject *out = NULL, *meta = NULL, *key = NULL;
    /* Held from here: the look-ups below, the clock and a contended lock can run other
     * threads, which may rebind this message's fields. */
    Py_INCREF(topic);
    Py_INCREF(body);
    const char *pb = "", *kb = "";
    Py_ssize_t plen = 0, klen = 0;
    int64_t code = 0;
    Py_ssize_t nprops = PyDict_GET_SIZE(props);
    if (nprops == 1) {
        Py_INCREF(props);
        PyObject *tags = PyDict_GetItemWithError(props, tags_key);
        Py_XINCREF(tags);
        Py_DECREF(props);
        if (tags == NULL) {
            if (PyErr_Occurred()) goto done;
            goto decline;
        }
        meta = PyUnicode_CheckExact(tags) ? PyDict_GetItemWithError(self->tag_cache, tags) : NULL;
        Py_DECREF(tags);
        if (meta == NULL) {
            if (PyErr_Occurred()) goto done;
            goto decline;
        }
        Py_INCREF(meta);
        if (!PyTuple_CheckExact(meta) || PyTuple_GET_SIZE(meta) != 3) goto decline;
        PyObject *p = PyTuple_GET_ITEM(meta, 0), *c = PyTuple_GET_ITEM(meta, 1), *k = PyTuple_GET_ITEM(meta, 2);
        if (!PyBytes_CheckExact(p) || !PyLong_CheckExact(c) || !PyBytes_CheckExact(k)) goto decline;
        int overflow = 0;
        code = PyLong_AsLongLongAndOverflow(c, &overflow);
        if (overflow || (code == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            goto decline;
        }
        pb = PyBytes_AS_STRING(p);
        plen = PyBytes_GET_SIZE(p);
        kb = PyBytes_AS_STRING(k);
        klen = PyBytes_GET_SIZE(k);
        if (plen > self->max_props || klen > INT32_MAX) goto decline;
    } else if (nprops != 0) {
        goto decline;
    }

    /* exact str and int keys: the look-up runs no Python code */
    key = PyTuple_Pack(2, topic, queue_id);
    if (key == NULL) goto done;
    PyObject *target = PyDict_GetItemWithError(self->targets, key);
    if (target == NULL) {
        if (PyErr_Occurred()) goto done;
        goto decline;
    }
    if (Py_TYPE(target) != target_type) goto decline;
    PyObject *addr = slot(target, target_offset, T_ADDR), *overhead_obj = slot(target, target_offset, T_OVERHEAD);
    PyObject *schedule = slot(target, target_offset, T_SCHEDULE);
    if (addr == NULL || overhead_obj == NULL || schedule != Py_False || !PyLong_CheckExact(overhead_obj))
        goto decline; /* the schedule topic's tag code is a delivery time: the interpreter's path */
    void *cq = PyLong_AsVoidPtr(addr);
    Py_ssize_t overhead = PyLong_AsSsize_t(overhead_obj);
    if ((cq == NULL || overhead < 0) && PyErr_Occurred()) goto done;

    int64_t now;
    if (self->now == Py_None) {
        now = self->system_now();
    } else {
        PyObject *t = PyObject_CallNoArgs(self->now);
        if (t == NULL) goto done;
        now = PyLong_AsLongLong(t);
        Py_DECREF(t);
        if (now == -1 && PyErr_Occurred()) goto done;
    }

    PyObject *r = PyObject_CallNoArgs(self->acquire);
    if (r == NULL) goto done;
    Py_DECREF(r);
    if (!self->enabled) { /* closed (or refusing) while this put waited for the lock */
        r = PyObject_CallNoArgs(self->release);
        if (r == NULL) goto done;
        Py_DECREF(r);
        goto decline;
    }
    int64_t phys = self->put_simple(self->cl, cq, PyBytes_AS_STRING(body), (int32_t)blen, pb, (int32_t)plen, flag,
                                    now, code, kb, (int32_t)klen);
    int64_t queue_offset = *self->last_queue_offset;
    r = PyObject_CallNoArgs(self->release);
    if (r == NULL) goto done;
    Py_DECREF(r);
    if (phys < 0) {
        out = PyObject_CallFunction(self->put_failed, "LOO", (long long)phys, topic, self->store_host);
        goto done;
    }
    int64_t wrote = (int64_t)overhead + blen + plen;
    PyObject *qoff = PyLong_FromLongLong(queue_offset);
    if (qoff == NULL) goto done;
    if (PyList_Check(self->listeners) && PyList_GET_SIZE(self->listeners) > 0) {
        r = PyObject_CallFunctionObjArgs(self->notify, self->listeners, topic, queue_id, qoff, NULL);
        if (r == NULL) {
            Py_DECREF(qoff);
            goto done;
        }
        Py_DECREF(r);
    }
    PyObject *result = self->result_type->tp_alloc(self->result_type, 10);
    if (result == NULL) {
        Py_DECREF(qoff);
        goto done;
    }
    PyObject *items[10] = {
        Py_NewRef(self->status_ok), PyLong_FromLongLong(phys), qoff, PyLong_FromLongLong(wrote),
        PyLong_FromLongLong(now), Py_NewRef(self->store_host), PyLong_FromLong(1), Py_NewRef(Py_None),
        Py_NewRef(Py_None), PyLong_FromLongLong(phys + wrote),
    };
    int failed = 0;
    for (int i = 0; i < 10; i++) {
        if (items[i] == NULL) failed = 1;
        PyTuple_SET_ITEM(result, i, items[i]); /* NULL items are fine for the dealloc below */
    }
    if (failed) {
        Py_DECREF(result);
        goto done;
    }
    out = result;
    goto done;

decline:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(key);
    Py_XDECREF(meta);
    Py_DECREF(topic);
    Py_DECREF(body);
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
