/* rmqcore.store._batch_gather: what MessageStore.put_batch needs from a list of Message
 * objects, collected in one C pass: each body's address and length and each flag (an
 * array of rmq_body_ref, body_ref.h), and the properties, one dict when every message
 * has equal ones.
 *
 * Why C, and why the CPython API rather than cffi: gathering 64 messages' bodies, flags
 * and properties in the interpreter cost ~15 us a batch on these machines, twice what the
 * C put of the same 64 KiB takes, and its b"".join copied every body once more before the
 * put copied it into the CommitLog. The cost is in reading Python objects, which cffi's C
 * side cannot do. The put itself (encode, CRC, ConsumeQueue, index) stays in the cffi
 * module: this one only hands it addresses.
 *
 * It declines (returns None) whatever is not the plain case: a sequence other than a list
 * or tuple, an element that is not exactly the bound Message class, a topic differing from
 * the first, a body that is not exactly bytes, a flag that is not an int32, properties that
 * are not a dict. The Python path then handles the batch, with its errors.
 */
#include "py_objects.h"

#include "body_ref.h"

enum { S_TOPIC, S_BODY, S_FLAG, S_PROPERTIES, S_COUNT };
static const char *const slot_names[S_COUNT] = {"topic", "body", "flag", "properties"};

static PyTypeObject *message_type = NULL; /* only exact instances are gathered */
static Py_ssize_t slot_offset[S_COUNT];

static inline PyObject *slot(PyObject *obj, int which) {
    return *(PyObject **)((char *)obj + slot_offset[which]);
}

static PyObject *bind(PyObject *module, PyObject *cls) {
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind() takes the Message class");
        return NULL;
    }
    Py_ssize_t offsets[S_COUNT];
    if (rmq_slot_offsets((PyTypeObject *)cls, slot_names, S_COUNT, offsets) < 0) return NULL;
    memcpy(slot_offset, offsets, sizeof offsets);
    Py_INCREF(cls);
    Py_XSETREF(message_type, (PyTypeObject *)cls);
    Py_RETURN_NONE;
}

/* Whether two dicts hold the very same key and value objects in the same order: what a
 * producer's messages built with one tag have (each its own dict, equal items). Then they
 * are equal, decided without running any Python code and ~4x faster than dict equality;
 * otherwise the caller asks dict equality. */
static int same_items(PyObject *a, PyObject *b) {
    if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b)) return 0;
    Py_ssize_t i = 0, j = 0;
    PyObject *ka, *va, *kb, *vb;
    while (PyDict_Next(a, &i, &ka, &va))
        if (!PyDict_Next(b, &j, &kb, &vb) || ka != kb || va != vb) return 0;
    return 1;
}

/* gather(msgs) -> (refs, keep, body_total, max_body_len, props) or None.
 * refs: bytes holding len(msgs) rmq_body_ref; keep: a tuple of the bodies, which the
 * caller holds until the put returns, since refs points into them and another thread may
 * rebind a message's body meanwhile; props: the first message's dict when all are equal,
 * else a list of every message's dict. */
static PyObject *gather(PyObject *module, PyObject *msgs) {
    if (message_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_batch_gather.bind(Message) was not called");
        return NULL;
    }
    if (!PyList_CheckExact(msgs) && !PyTuple_CheckExact(msgs)) Py_RETURN_NONE;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(msgs);
    if (n == 0 || n > INT32_MAX / (Py_ssize_t)sizeof(rmq_body_ref)) Py_RETURN_NONE;
    PyObject *refs_obj = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(rmq_body_ref));
    PyObject *keep = PyTuple_New(n);
    PyObject *topic = NULL, *props0 = NULL, *props_list = NULL, *out = NULL;
    if (refs_obj == NULL || keep == NULL) goto done;
    /* Anything that can run Python code (an allocation starting a collection whose
     * finalizers run, a dict value's __eq__) may change a list under us: its items are
     * read again after each such call, and a change declines. Everything kept past such
     * a call is held by a strong reference (the bodies in keep, topic, the dicts). */
#define ITEMS_CHANGED() (PySequence_Fast_GET_SIZE(msgs) != n || PySequence_Fast_ITEMS(msgs) != items)
    PyObject **items = PySequence_Fast_ITEMS(msgs);
    if (PySequence_Fast_GET_SIZE(msgs) != n || Py_TYPE(items[0]) != message_type) goto decline;
    topic = slot(items[0], S_TOPIC);
    props0 = slot(items[0], S_PROPERTIES);
    if (topic == NULL || props0 == NULL || !PyUnicode_CheckExact(topic) || !PyDict_CheckExact(props0)) {
        topic = props0 = NULL;
        goto decline;
    }
    Py_INCREF(topic);
    Py_INCREF(props0);
    rmq_body_ref *refs = (rmq_body_ref *)PyBytes_AS_STRING(refs_obj);
    Py_ssize_t total = 0, max_len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = items[i];
        if (Py_TYPE(m) != message_type) goto decline;
        PyObject *t = slot(m, S_TOPIC), *body = slot(m, S_BODY), *flag = slot(m, S_FLAG), *props = slot(m, S_PROPERTIES);
        if (t == NULL || body == NULL || flag == NULL || props == NULL) goto decline;
        /* an exact str compares without running Python code */
        if (t != topic && (!PyUnicode_CheckExact(t) || PyUnicode_Compare(t, topic) != 0)) goto decline;
        if (!PyBytes_CheckExact(body) || !PyLong_CheckExact(flag) || !PyDict_CheckExact(props)) goto decline;
        int overflow = 0;
        long f = PyLong_AsLongAndOverflow(flag, &overflow);
        Py_ssize_t len = PyBytes_GET_SIZE(body);
        if (overflow || f < INT32_MIN || f > INT32_MAX || len > INT32_MAX) goto decline;
        refs[i].body = PyBytes_AS_STRING(body);
        refs[i].body_len = (int32_t)len;
        refs[i].flag = (int32_t)f;
        total += len;
        if (len > max_len) max_len = len;
        PyTuple_SET_ITEM(keep, i, Py_NewRef(body));
        if (props_list == NULL && props != props0 && !same_items(props, props0)) {
            Py_INCREF(props);
            int equal = PyObject_RichCompareBool(props, props0, Py_EQ);
            if (equal == 0) { /* from here on every message's dict is listed */
                props_list = PyList_New(n);
                if (props_list == NULL) equal = -1;
            }
            Py_DECREF(props);
            if (equal < 0) goto done;
            if (ITEMS_CHANGED()) goto decline;
            /* the same Python code may have rebound or deleted a message's properties */
            for (Py_ssize_t j = 0; props_list != NULL && j < i; j++) {
                PyObject *earlier = slot(items[j], S_PROPERTIES);
                if (earlier == NULL || !PyDict_CheckExact(earlier)) goto decline;
                PyList_SET_ITEM(props_list, j, Py_NewRef(earlier));
            }
            m = items[i];
            props = slot(m, S_PROPERTIES);
            if (props == NULL || !PyDict_CheckExact(props)) goto decline;
        }
        if (props_list != NULL) PyList_SET_ITEM(props_list, i, Py_NewRef(props));
    }
#undef ITEMS_CHANGED
    out = Py_BuildValue("(OOnnO)", refs_obj, keep, total, max_len, props_list != NULL ? props_list : props0);
    goto done;

decline:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(refs_obj);
    Py_XDECREF(keep);
    Py_XDECREF(topic);
    Py_XDECREF(props0);
    Py_XDECREF(props_list);
    return out;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_O, "bind(Message): the class whose exact instances gather() takes."},
    {"gather", gather, METH_O,
     "gather(msgs) -> (refs, keep, body_total, max_body_len, props) or None: see MessageStore.put_batch."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "rmqcore.store._batch_gather",
    "Gathers a put_batch's bodies, flags and properties from Message objects (C).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__batch_gather(void) { return PyModule_Create(&module_def); }
