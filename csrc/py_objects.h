/* What the CPython-API modules (stored_decode.c, json_header.c) share: filling a slotted
 * class's instances directly, and a small cache of str objects for byte strings that repeat.
 * Header-only (static functions): each module is its own extension. */
#ifndef RMQ_PY_OBJECTS_H
#define RMQ_PY_OBJECTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef Py_T_OBJECT_EX
#include <structmember.h>
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_READONLY READONLY
#endif

/* The offsets of ``names`` (n writable object slots of ``cls``, whose instances have no
 * __dict__) into ``out``: a new instance's slots are then filled as their member
 * descriptors would fill them. 0, or -1 with TypeError naming what is wrong. */
static int rmq_slot_offsets(PyTypeObject *cls, const char *const *names, int n, Py_ssize_t *out) {
    if (!PyType_Check(cls) || cls->tp_dictoffset != 0) {
        PyErr_Format(PyExc_TypeError, "%s: a class whose attributes are all __slots__ is needed",
                     PyType_Check(cls) ? cls->tp_name : "not a class");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *descr = PyObject_GetAttrString((PyObject *)cls, names[i]);
        if (descr == NULL) return -1;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == Py_T_OBJECT_EX &&
                 !(((PyMemberDescrObject *)descr)->d_member->flags & Py_READONLY);
        if (ok) out[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a writable slot", cls->tp_name, names[i]);
            return -1;
        }
    }
    return 0;
}

static int rmq_all_ascii(const uint8_t *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] & 0x80) return 0;
    return 1;
}

/* Names and many values (tags, "true", group, topic and cluster names) repeat from message
 * to message and header to header; a memcmp against a few recent ones is cheaper than
 * decoding and allocating a new str. */
#define RMQ_STR_CACHE_WAYS 32
#define RMQ_STR_CACHE_MAX_LEN 48
typedef struct {
    PyObject *str;
    Py_ssize_t len;
    char bytes[RMQ_STR_CACHE_MAX_LEN];
} rmq_cached_str;
typedef struct {
    rmq_cached_str entries[RMQ_STR_CACHE_WAYS];
    unsigned next;
} rmq_str_cache;

/* New reference to the str of UTF-8 bytes [s, s+len) (valid: the caller checked), from
 * ``cache`` when it holds them (NULL: no cache, as for values unique to each message). */
static PyObject *rmq_cached_text(rmq_str_cache *cache, const char *s, Py_ssize_t len) {
    if (cache == NULL || len > RMQ_STR_CACHE_MAX_LEN) return PyUnicode_DecodeUTF8(s, len, NULL);
    for (unsigned i = 0; i < RMQ_STR_CACHE_WAYS; i++) {
        rmq_cached_str *e = &cache->entries[i];
        if (e->str != NULL && e->len == len && memcmp(e->bytes, s, (size_t)len) == 0) return Py_NewRef(e->str);
    }
    PyObject *text = PyUnicode_DecodeUTF8(s, len, NULL);
    if (text == NULL) return NULL;
    rmq_cached_str *e = &cache->entries[cache->next++ % RMQ_STR_CACHE_WAYS];
    Py_XSETREF(e->str, Py_NewRef(text));
    e->len = len;
    memcpy(e->bytes, s, (size_t)len);
    return text;
}

#endif
