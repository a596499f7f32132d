/* rmqcore.message._stored_decode: the common stored record (reference section 4, "Stored
 * message": V1 magic, IPv4 hosts, body not compressed) decoded straight into MessageExt
 * objects.
 *
 * Why C, and why the CPython API rather than cffi: a consumer decodes every message it
 * pulls, and in the interpreter one record costs ~2 us on these machines (the unpack, a
 * dozen slot stores, the property pairs), more than the broker spends serving it. The cost
 * is in building Python objects, which cffi's C side cannot do; this module builds them
 * and fills MessageExt's slots the way a member descriptor would.
 *
 * It decodes exactly the records rmqcore.message.codec's pure-Python fast path accepts, to
 * the same values, and stops at the first record it does not take (anything unusual,
 * invalid UTF-8 included), so that the Python decoder decides that record's fate. The two
 * are compared on generated records in tests/test_stored_decode.py.
 */
#include "py_objects.h"

#define MAGIC_V1 ((int32_t)0xDAA320A7u) /* section 4, MESSAGE_MAGIC_CODE */
#define FIXED_SIZE 88 /* fields 1-15 and the body length of a V1 IPv4 record */
#define MIN_RECORD 91
#define FLAG_COMPRESSED 0x1
#define FLAG_BORNHOST_V6 (0x1 << 4)
#define FLAG_STOREHOST_V6 (0x1 << 5)
#define NOT_FAST (FLAG_BORNHOST_V6 | FLAG_STOREHOST_V6 | FLAG_COMPRESSED)

/* MessageExt's slots, in the order they are filled. */
enum {
    S_TOPIC, S_BODY, S_FLAG, S_PROPERTIES, S_TRANSACTION_ID, S_QUEUE_ID, S_QUEUE_OFFSET,
    S_COMMITLOG_OFFSET, S_SYS_FLAG, S_BORN_TIMESTAMP, S_BORN_HOST, S_STORE_TIMESTAMP,
    S_STORE_HOST, S_RECONSUME_TIMES, S_PREPARED_OFFSET, S_BODY_CRC, S_STORE_SIZE,
    S_OFFSET_MSG_ID, S_BROKER_NAME, S_COUNT
};
static const char *const slot_names[S_COUNT] = {
    "topic", "body", "flag", "properties", "transaction_id", "queue_id", "queue_offset",
    "commitlog_offset", "sys_flag", "born_timestamp", "_born_host", "store_timestamp",
    "_store_host", "reconsume_times", "prepared_transaction_offset", "body_crc", "store_size",
    "_offset_msg_id", "broker_name",
};

static PyTypeObject *layout_type = NULL; /* the class the offsets below belong to */
static Py_ssize_t slot_offset[S_COUNT];

static int learn_layout(PyTypeObject *cls) {
    if (cls == layout_type) return 0;
    Py_ssize_t offsets[S_COUNT];
    if (rmq_slot_offsets(cls, slot_names, S_COUNT, offsets) < 0) return -1;
    memcpy(slot_offset, offsets, sizeof offsets);
    Py_INCREF(cls);
    Py_XSETREF(layout_type, cls);
    return 0;
}

static inline int32_t rd32(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)(uint32_t)rd32(p) << 32 | (uint32_t)rd32(p + 4); }

static rmq_str_cache name_cache, value_cache, topic_cache;

/* Whether [p, p+n) is valid UTF-8 (what Python's strict decode of the whole accepts). */
static int valid_utf8(const uint8_t *p, Py_ssize_t n) {
    if (rmq_all_ascii(p, n)) return 1;
    PyObject *probe = PyUnicode_DecodeUTF8((const char *)p, n, NULL);
    if (probe == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(probe);
    return 1;
}

/* decode_properties of the property bytes [p, p+n) (valid UTF-8): split at \x02, each item
 * at its first \x01, pairs with an empty name or value dropped, a later name wins. */
static PyObject *decode_properties(const uint8_t *p, Py_ssize_t n) {
    PyObject *props = PyDict_New();
    if (props == NULL) return NULL;
    const uint8_t *end = p + n, *item = p;
    while (item <= end) {
        const uint8_t *stop = memchr(item, 0x02, (size_t)(end - item));
        if (stop == NULL) stop = end;
        const uint8_t *sep = memchr(item, 0x01, (size_t)(stop - item));
        if (sep != NULL && sep > item && sep + 1 < stop) {
            PyObject *name = rmq_cached_text(&name_cache, (const char *)item, sep - item);
            Py_ssize_t name_len = sep - item, value_len = stop - sep - 1;
            /* Values unique to each message would only push the repeating ones out. */
            int unique = (name_len == 8 && memcmp(item, "UNIQ_KEY", 8) == 0) || (name_len == 4 && memcmp(item, "KEYS", 4) == 0);
            PyObject *value = name == NULL ? NULL
                              : unique ? PyUnicode_DecodeUTF8((const char *)sep + 1, value_len, NULL)
                                       : rmq_cached_text(&value_cache, (const char *)sep + 1, value_len);
            int rc = value ? PyDict_SetItem(props, name, value) : -1;
            Py_XDECREF(name);
            Py_XDECREF(value);
            if (rc < 0) {
                Py_DECREF(props);
                return NULL;
            }
        }
        item = stop + 1;
    }
    return props;
}

/* The class being filled and its slot offsets, fixed for one decode_into call: allocations
 * may run a garbage collection whose finalizers run Python code, which could decode with
 * another class and so change the module's layout_type. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t offset[S_COUNT];
} layout;

/* One fast-path record at pos, appended to out: 1 if decoded, 0 if the record is not one
 * this path takes (nothing appended), -1 with an exception set on a Python error. */
static int decode_one(const layout *L, const uint8_t *buf, Py_ssize_t end, Py_ssize_t pos, PyObject *out, Py_ssize_t *next) {
    if (end - pos < FIXED_SIZE) return 0;
    const uint8_t *r = buf + pos;
    int32_t total = rd32(r), magic = rd32(r + 4), sys_flag = rd32(r + 36), body_len = rd32(r + 84);
    if (magic != MAGIC_V1 || (sys_flag & NOT_FAST) || total < MIN_RECORD || total > end - pos) return 0;
    Py_ssize_t rec_end = pos + total, body_at = pos + FIXED_SIZE;
    if (body_len < 0 || body_at + body_len + 3 > rec_end) return 0;
    Py_ssize_t body_end = body_at + body_len;
    Py_ssize_t topic_end = body_end + 1 + buf[body_end];
    if (topic_end + 2 > rec_end) return 0;
    Py_ssize_t props_at = topic_end + 2;
    Py_ssize_t props_end = props_at + ((Py_ssize_t)buf[topic_end] << 8 | buf[topic_end + 1]);
    if (props_end > rec_end) return 0;
    const uint8_t *topic_bytes = buf + body_end + 1;
    Py_ssize_t topic_len = topic_end - body_end - 1;
    if (!valid_utf8(topic_bytes, topic_len) || !valid_utf8(buf + props_at, props_end - props_at)) return 0;

    PyObject *v[S_COUNT] = {NULL};
    v[S_TOPIC] = rmq_cached_text(&topic_cache, (const char *)topic_bytes, topic_len);
    v[S_BODY] = PyBytes_FromStringAndSize((const char *)buf + body_at, body_len);
    v[S_FLAG] = PyLong_FromLong(rd32(r + 16));
    v[S_PROPERTIES] = decode_properties(buf + props_at, props_end - props_at);
    v[S_TRANSACTION_ID] = Py_NewRef(Py_None);
    v[S_QUEUE_ID] = PyLong_FromLong(rd32(r + 12));
    v[S_QUEUE_OFFSET] = PyLong_FromLongLong((int64_t)rd64(r + 20));
    v[S_COMMITLOG_OFFSET] = PyLong_FromLongLong((int64_t)rd64(r + 28));
    v[S_SYS_FLAG] = PyLong_FromLong(sys_flag);
    v[S_BORN_TIMESTAMP] = PyLong_FromLongLong((int64_t)rd64(r + 40));
    v[S_BORN_HOST] = PyLong_FromUnsignedLongLong(rd64(r + 48)); /* ip+port, converted when read */
    v[S_STORE_TIMESTAMP] = PyLong_FromLongLong((int64_t)rd64(r + 56));
    v[S_STORE_HOST] = PyLong_FromUnsignedLongLong(rd64(r + 64));
    v[S_RECONSUME_TIMES] = PyLong_FromLong(rd32(r + 72));
    v[S_PREPARED_OFFSET] = PyLong_FromLongLong((int64_t)rd64(r + 76));
    v[S_BODY_CRC] = PyLong_FromLong(rd32(r + 8));
    v[S_STORE_SIZE] = PyLong_FromLong(total);
    v[S_OFFSET_MSG_ID] = (v[S_STORE_HOST] && v[S_COMMITLOG_OFFSET]) ? PyTuple_Pack(2, v[S_STORE_HOST], v[S_COMMITLOG_OFFSET]) : NULL;
    v[S_BROKER_NAME] = Py_NewRef(Py_None);
    PyObject *msg = NULL;
    for (int i = 0; i < S_COUNT; i++)
        if (v[i] == NULL) goto fail;
    msg = L->type->tp_alloc(L->type, 0);
    if (msg == NULL) goto fail;
    for (int i = 0; i < S_COUNT; i++) *(PyObject **)((char *)msg + L->offset[i]) = v[i]; /* the slots own the references */
    int rc = PyList_Append(out, msg);
    Py_DECREF(msg);
    if (rc < 0) return -1;
    *next = rec_end;
    return 1;
fail:
    for (int i = 0; i < S_COUNT; i++) Py_XDECREF(v[i]);
    return -1;
}

PyDoc_STRVAR(decode_into_doc,
             "decode_into(buf, pos, cls, out) -> int\n\n"
             "Append to ``out`` a ``cls`` (MessageExt) for each consecutive common stored record\n"
             "of ``buf`` (bytes) from ``pos``; return where the first record it did not take\n"
             "starts (``len(buf)`` when it took them all).");

static PyObject *decode_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyBytes_CheckExact(args[0]) || !PyLong_Check(args[1]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "decode_into(buf: bytes, pos: int, cls: type, out: list)");
        return NULL;
    }
    if (learn_layout((PyTypeObject *)args[2]) < 0) return NULL;
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    const uint8_t *buf = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t end = PyBytes_GET_SIZE(args[0]);
    if (pos < 0) pos = 0;
    layout L;
    L.type = (PyTypeObject *)Py_NewRef(layout_type);
    memcpy(L.offset, slot_offset, sizeof L.offset);
    int rc = 1;
    while (pos < end && rc > 0) rc = decode_one(&L, buf, end, pos, args[3], &pos);
    Py_DECREF(L.type);
    if (rc < 0) return NULL;
    return PyLong_FromSsize_t(pos < end ? pos : end);
}

static PyMethodDef methods[] = {
    {"decode_into", (PyCFunction)(void (*)(void))decode_into, METH_FASTCALL, decode_into_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rmqcore.message._stored_decode",
    "The common stored record decoded in C (see rmqcore.message.codec).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__stored_decode(void) { return PyModule_Create(&module); }
