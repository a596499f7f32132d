/* rmqcore.remoting._json_header: the JSON header (reference section 1, serialize type 0)
 * of the common command, decoded and encoded in C.
 *
 * Why: every request and every response crosses this codec twice (client and broker), and
 * in the interpreter a send request's header costs ~4.5 us to read (the json scanner's
 * dicts and strings, then the checks) and a response's ~2 us to write. Both are a large
 * part of a send's round trip on these machines.
 *
 * Contract, checked against the Python codec in tests/remoting/test_json_header_c.py:
 *  - decode_common(data) returns exactly the RemotingCommand that
 *    json_header.decode_common_json_header returns, or None when the header is not one
 *    this parser takes (whitespace, escapes, numbers other than plain ints, unknown or
 *    repeated fields, invalid UTF-8 ...); the caller then runs the Python decoder, which
 *    decides. It never raises for bad input.
 *  - encode(code, ext, flag, language_name, opaque, remark, version) returns exactly the
 *    bytes json_header.encode_json_header writes (fastjson's field order, compact, non-ASCII
 *    as UTF-8, json.encoder.encode_basestring's escapes), or None for anything but ints, a
 *    dict of str to str (or None) and a str or None remark; the caller then encodes in Python.
 */
#include "py_objects.h"

/* ---- set up once from Python: the command class, language names, SerializeType.JSON ---- */
enum { F_CODE, F_LANGUAGE, F_VERSION, F_OPAQUE, F_FLAG, F_REMARK, F_EXT, F_BODY, F_SERIALIZE, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "code", "language", "version", "opaque", "flag", "remark", "ext_fields", "body", "serialize_type",
};
static PyTypeObject *command_type = NULL;
static Py_ssize_t field_offset[F_COUNT];
static PyObject *languages = NULL; /* dict: name (str) -> LanguageCode member */
static PyObject *json_type = NULL; /* SerializeType.JSON */

static PyObject *setup(PyObject *self, PyObject *args) {
    PyTypeObject *cls;
    PyObject *langs, *json;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyType_Type, &cls, &PyDict_Type, &langs, &json)) return NULL;
    Py_ssize_t offsets[F_COUNT];
    if (rmq_slot_offsets(cls, field_names, F_COUNT, offsets) < 0) return NULL;
    memcpy(field_offset, offsets, sizeof offsets);
    Py_INCREF(cls);
    Py_XSETREF(command_type, cls);
    Py_INCREF(langs);
    Py_XSETREF(languages, langs);
    Py_INCREF(json);
    Py_XSETREF(json_type, json);
    Py_RETURN_NONE;
}

/* ---- decoding ---- */
static rmq_str_cache key_cache, value_cache;

typedef struct {
    const uint8_t *p, *end;
} cursor;

/* Where unescaped strings are built: a buffer of the call's own, never a shared one. An
 * allocation in the middle of a parse can run a garbage collection, whose finalizers may
 * run Python code that parses another header, on this thread or (the GIL released) on
 * another. */
typedef struct {
    char *buf;
    size_t cap;
    int on_heap;
} scratch_buf;

static int hex4(const uint8_t *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t b = p[i];
        v <<= 4;
        if (b >= '0' && b <= '9') v |= (uint32_t)(b - '0');
        else if (b >= 'a' && b <= 'f') v |= (uint32_t)(b - 'a' + 10);
        else if (b >= 'A' && b <= 'F') v |= (uint32_t)(b - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* The JSON string at c->p as UTF-8 in [*s, *s+*n): the input bytes themselves, or with
 * escapes the unescaped copy in the scratch buffer. 0 for what this parser does not take:
 * a control character, a bad escape, a lone surrogate (json keeps it; Python decides). */
static int scan_string(cursor *c, scratch_buf *scratch, const uint8_t **s, Py_ssize_t *n) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const uint8_t *start = ++c->p;
    while (c->p < c->end && *c->p != '"' && *c->p != '\\') {
        if (*c->p < 0x20) return 0;
        c->p++;
    }
    if (c->p >= c->end) return 0;
    if (*c->p == '"') {
        *s = start;
        *n = c->p - start;
        c->p++;
        return 1;
    }
    /* Escapes: each input byte gives at most one output byte, except \uXXXX (6 in, <= 3 out)
     * and surrogate pairs (12 in, 4 out). */
    size_t need = (size_t)(c->end - start);
    if (need > scratch->cap) {
        char *grown = PyMem_Malloc(need); /* nothing in the old buffer is needed any more */
        if (grown == NULL) return 0;
        if (scratch->on_heap) PyMem_Free(scratch->buf);
        scratch->buf = grown;
        scratch->cap = need;
        scratch->on_heap = 1;
    }
    uint8_t *o = (uint8_t *)scratch->buf;
    memcpy(o, start, (size_t)(c->p - start));
    o += c->p - start;
    while (c->p < c->end) {
        uint8_t b = *c->p;
        if (b == '"') {
            *s = (const uint8_t *)scratch->buf;
            *n = o - (uint8_t *)scratch->buf;
            c->p++;
            return 1;
        }
        if (b < 0x20) return 0;
        if (b != '\\') {
            *o++ = b;
            c->p++;
            continue;
        }
        if (c->end - c->p < 2) return 0;
        uint8_t e = c->p[1];
        c->p += 2;
        switch (e) {
        case '"': *o++ = '"'; continue;
        case '\\': *o++ = '\\'; continue;
        case '/': *o++ = '/'; continue;
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: return 0;
        }
        uint32_t cp;
        if (c->end - c->p < 4 || !hex4(c->p, &cp)) return 0;
        c->p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return 0;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || !hex4(c->p + 2, &low) || low < 0xDC00 ||
                low > 0xDFFF)
                return 0;
            c->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (cp < 0x80) {
            *o++ = (uint8_t)cp;
        } else if (cp < 0x800) {
            *o++ = (uint8_t)(0xC0 | (cp >> 6));
            *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *o++ = (uint8_t)(0xE0 | (cp >> 12));
            *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (uint8_t)(0xF0 | (cp >> 18));
            *o++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        }
    }
    return 0;
}

/* A plain JSON integer (no fraction, exponent or leading zero) within the int range. */
static int scan_int32(cursor *c, long *out) {
    int negative = 0;
    if (c->p < c->end && *c->p == '-') {
        negative = 1;
        c->p++;
    }
    const uint8_t *start = c->p;
    int64_t value = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        value = value * 10 + (*c->p - '0');
        if (value > 2147483648LL) return 0;
        c->p++;
    }
    Py_ssize_t digits = c->p - start;
    if (digits == 0 || (digits > 1 && *start == '0')) return 0;
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return 0;
    if (negative) value = -value;
    if (value > 2147483647LL || value < -2147483648LL) return 0;
    *out = (long)value;
    return 1;
}

static int expect(cursor *c, uint8_t b) {
    if (c->p < c->end && *c->p == b) {
        c->p++;
        return 1;
    }
    return 0;
}

static int key_is(const uint8_t *s, Py_ssize_t n, const char *name) {
    return (size_t)n == strlen(name) && memcmp(s, name, (size_t)n) == 0;
}

/* {"k":"v",...} of string values into a new dict; NULL with no exception set when the
 * object is not one this parser takes, NULL with an exception on a Python error. */
static PyObject *scan_ext(cursor *c, scratch_buf *scratch) {
    if (!expect(c, '{')) return NULL;
    PyObject *ext = PyDict_New();
    if (ext == NULL) return NULL;
    if (expect(c, '}')) return ext;
    for (;;) {
        const uint8_t *ks, *vs;
        Py_ssize_t kn, vn;
        /* The key becomes a str before the value is scanned: both may be in the scratch buffer. */
        if (!scan_string(c, scratch, &ks, &kn)) goto not_taken;
        PyObject *key = rmq_cached_text(&key_cache, (const char *)ks, kn);
        if (key == NULL) goto error;
        if (!expect(c, ':') || !scan_string(c, scratch, &vs, &vn)) {
            Py_DECREF(key);
            goto not_taken;
        }
        PyObject *value = rmq_cached_text(vn <= 16 ? &value_cache : NULL, (const char *)vs, vn);
        int rc = value ? PyDict_SetItem(ext, key, value) : -1;
        Py_DECREF(key);
        Py_XDECREF(value);
        if (rc < 0) goto error;
        if (expect(c, ',')) continue;
        if (expect(c, '}')) return ext;
        goto not_taken;
    }
not_taken:
    Py_DECREF(ext);
    return NULL;
error:
    Py_DECREF(ext);
    return NULL;
}

static PyObject *parse_common(cursor *cp, scratch_buf *scratch);

PyDoc_STRVAR(decode_common_doc,
             "decode_common(data: bytes) -> RemotingCommand | None\n\n"
             "The command json_header.decode_common_json_header returns for ``data``, or None\n"
             "when this parser does not take the header (then decode it in Python).");

static PyObject *decode_common(PyObject *self, PyObject *arg) {
    if (command_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "rmqcore.remoting._json_header.setup() was not called");
        return NULL;
    }
    if (!PyBytes_CheckExact(arg)) Py_RETURN_NONE;
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(arg);
    Py_ssize_t size = PyBytes_GET_SIZE(arg);
    if (!rmq_all_ascii(data, size)) { /* strings get decoded one by one below: the whole must be UTF-8 */
        PyObject *probe = PyUnicode_DecodeUTF8((const char *)data, size, NULL);
        if (probe == NULL) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        Py_DECREF(probe);
    }
    cursor c = {data, data + size};
    char local[1024];
    scratch_buf scratch = {local, sizeof local, 0};
    PyObject *result = parse_common(&c, &scratch);
    if (scratch.on_heap) PyMem_Free(scratch.buf);
    return result;
}

static PyObject *parse_common(cursor *cp, scratch_buf *scratch) {
    cursor c = *cp;
    long code = 0, version = 0, opaque = 0, flag = 0;
    unsigned seen = 0;
    PyObject *ext = NULL, *remark = NULL, *language = NULL;
    if (!expect(&c, '{')) Py_RETURN_NONE;
    for (;;) {
        const uint8_t *ks;
        Py_ssize_t kn;
        if (!scan_string(&c, scratch, &ks, &kn) || !expect(&c, ':')) goto not_taken;
        int field;
        if (key_is(ks, kn, "code")) field = 0;
        else if (key_is(ks, kn, "extFields")) field = 1;
        else if (key_is(ks, kn, "flag")) field = 2;
        else if (key_is(ks, kn, "language")) field = 3;
        else if (key_is(ks, kn, "opaque")) field = 4;
        else if (key_is(ks, kn, "remark")) field = 5;
        else if (key_is(ks, kn, "serializeTypeCurrentRPC")) field = 6;
        else if (key_is(ks, kn, "version")) field = 7;
        else goto not_taken;
        if (seen & (1u << field)) goto not_taken; /* a repeated field: the Python decoder decides */
        seen |= 1u << field;
        const uint8_t *vs;
        Py_ssize_t vn;
        switch (field) {
        case 0: if (!scan_int32(&c, &code)) goto not_taken; break;
        case 2: if (!scan_int32(&c, &flag)) goto not_taken; break;
        case 4: if (!scan_int32(&c, &opaque)) goto not_taken; break;
        case 7: if (!scan_int32(&c, &version)) goto not_taken; break;
        case 1:
            ext = scan_ext(&c, scratch);
            if (ext == NULL) {
                if (PyErr_Occurred()) goto error;
                goto not_taken;
            }
            break;
        case 3: {
            if (!scan_string(&c, scratch, &vs, &vn)) goto not_taken;
            PyObject *name = PyUnicode_DecodeUTF8((const char *)vs, vn, NULL);
            if (name == NULL) goto error;
            language = PyDict_GetItemWithError(languages, name); /* borrowed */
            Py_DECREF(name);
            if (language == NULL) {
                if (PyErr_Occurred()) goto error;
                goto not_taken;
            }
            Py_INCREF(language);
            break;
        }
        case 5:
            if (c.end - c.p >= 4 && memcmp(c.p, "null", 4) == 0) {
                c.p += 4;
                break;
            }
            if (!scan_string(&c, scratch, &vs, &vn)) goto not_taken;
            remark = PyUnicode_DecodeUTF8((const char *)vs, vn, NULL);
            if (remark == NULL) goto error;
            break;
        case 6:
            if (!scan_string(&c, scratch, &vs, &vn)) goto not_taken; /* its value is not used */
            break;
        }
        if (expect(&c, ',')) continue;
        if (expect(&c, '}')) break;
        goto not_taken;
    }
    /* code, extFields and language are what the common shape requires; nothing may follow */
    if (c.p != c.end || !(seen & 1u) || ext == NULL || language == NULL) goto not_taken;
    PyObject *values[F_COUNT] = {
        PyLong_FromLong(code), language, PyLong_FromLong(version), PyLong_FromLong(opaque),
        PyLong_FromLong(flag), remark ? remark : Py_NewRef(Py_None), ext, Py_NewRef(Py_None),
        Py_NewRef(json_type),
    };
    language = remark = ext = NULL; /* owned by values[] now */
    PyObject *cmd = NULL;
    for (int i = 0; i < F_COUNT; i++)
        if (values[i] == NULL) goto fail_values;
    /* The class and its slot offsets as they are now: the allocation may run Python code. */
    PyTypeObject *type = (PyTypeObject *)Py_NewRef(command_type);
    Py_ssize_t offsets[F_COUNT];
    memcpy(offsets, field_offset, sizeof offsets);
    cmd = type->tp_alloc(type, 0);
    Py_DECREF(type); /* the instance holds its type */
    if (cmd == NULL) goto fail_values;
    for (int i = 0; i < F_COUNT; i++) *(PyObject **)((char *)cmd + offsets[i]) = values[i];
    return cmd;
fail_values:
    for (int i = 0; i < F_COUNT; i++) Py_XDECREF(values[i]);
    return NULL;
not_taken:
    Py_XDECREF(ext);
    Py_XDECREF(remark);
    Py_XDECREF(language);
    Py_RETURN_NONE;
error:
    Py_XDECREF(ext);
    Py_XDECREF(remark);
    Py_XDECREF(language);
    return NULL;
}

/* ---- encoding ---- */
static const char hex_digits[] = "0123456789abcdef";

/* Bytes json.encoder.encode_basestring (ensure_ascii=False) writes for UTF-8 [s, s+n),
 * quotes included; with out != NULL they are written there. The escaped characters are
 * all ASCII, so working on UTF-8 bytes is working on code points. */
static Py_ssize_t quote(const char *s, Py_ssize_t n, char *out) {
    Py_ssize_t len = 2;
    if (out) *out++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        const char *esc = NULL;
        switch (b) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (esc) {
            len += 2;
            if (out) {
                *out++ = esc[0];
                *out++ = esc[1];
            }
        } else if (b < 0x20) {
            len += 6;
            if (out) {
                memcpy(out, "\\u00", 4);
                out[4] = hex_digits[b >> 4];
                out[5] = hex_digits[b & 0xF];
                out += 6;
            }
        } else {
            len += 1;
            if (out) *out++ = (char)b;
        }
    }
    if (out) *out = '"';
    return len;
}

typedef struct {
    const char *s;
    Py_ssize_t n;
} span;

#define MAX_EXT_STACK 64

PyDoc_STRVAR(encode_doc,
             "encode(code, ext, flag, language_name, opaque, remark, version) -> bytes | None\n\n"
             "The bytes json_header.encode_json_header writes for a command with these fields,\n"
             "or None when a field is not of the plain kind this encoder takes (then encode in\n"
             "Python).");

static PyObject *encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "encode() takes 7 arguments");
        return NULL;
    }
    PyObject *ext = args[1], *lang = args[3], *remark = args[5];
    long long ints[4]; /* code, flag, opaque, version */
    PyObject *int_args[4] = {args[0], args[2], args[4], args[6]};
    for (int i = 0; i < 4; i++) {
        if (!PyLong_Check(int_args[i])) Py_RETURN_NONE;
        int overflow = 0;
        ints[i] = PyLong_AsLongLongAndOverflow(int_args[i], &overflow);
        if (overflow || (ints[i] == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
    }
    if (!PyUnicode_CheckExact(lang) || (remark != Py_None && !PyUnicode_Check(remark))) Py_RETURN_NONE;
    if (ext != Py_None && !PyDict_CheckExact(ext)) Py_RETURN_NONE;
    Py_ssize_t pairs = ext == Py_None ? 0 : PyDict_GET_SIZE(ext);
    span stack_spans[2 * MAX_EXT_STACK];
    span *spans = pairs <= MAX_EXT_STACK ? stack_spans : PyMem_Malloc(sizeof(span) * 2 * (size_t)pairs);
    if (spans == NULL) return PyErr_NoMemory();
    PyObject *result = NULL;
    Py_ssize_t lang_n, remark_n = 0, total = 0;
    const char *lang_s = PyUnicode_AsUTF8AndSize(lang, &lang_n);
    const char *remark_s = NULL;
    if (lang_s == NULL) goto not_taken;
    if (remark != Py_None && (remark_s = PyUnicode_AsUTF8AndSize(remark, &remark_n)) == NULL) goto not_taken;
    /* The UTF-8 of every name and value (kept by the str objects; the dict holds them). */
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (pairs && PyDict_Next(ext, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) goto not_taken;
        if ((spans[i].s = PyUnicode_AsUTF8AndSize(k, &spans[i].n)) == NULL) goto not_taken;
        if ((spans[i + 1].s = PyUnicode_AsUTF8AndSize(v, &spans[i + 1].n)) == NULL) goto not_taken;
        total += quote(spans[i].s, spans[i].n, NULL) + 1 + quote(spans[i + 1].s, spans[i + 1].n, NULL) + 1;
        i += 2;
    }
    char numbers[4][24];
    int number_len[4];
    for (int j = 0; j < 4; j++) number_len[j] = snprintf(numbers[j], sizeof numbers[j], "%lld", ints[j]);
    static const char p_code[] = "{\"code\":", p_ext[] = "\"extFields\":{", p_flag[] = "\"flag\":",
                      p_lang[] = "\"language\":\"", p_opaque[] = "\",\"opaque\":", p_remark[] = "\"remark\":",
                      p_tail[] = "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":";
#define LIT(x) (Py_ssize_t)(sizeof(x) - 1)
    Py_ssize_t size = LIT(p_code) + number_len[0] + 1 + (pairs ? LIT(p_ext) + total - 1 + 2 : 0) + LIT(p_flag) +
                      number_len[1] + 1 + LIT(p_lang) + lang_n + LIT(p_opaque) + number_len[2] + 1 +
                      (remark_s ? LIT(p_remark) + quote(remark_s, remark_n, NULL) + 1 : 0) + LIT(p_tail) +
                      number_len[3] + 1;
    result = PyBytes_FromStringAndSize(NULL, size);
    if (result == NULL) goto done;
    char *o = PyBytes_AS_STRING(result);
#define PUT(src, n)                        \
    do {                                   \
        memcpy(o, (src), (size_t)(n));     \
        o += (n);                          \
    } while (0)
    PUT(p_code, LIT(p_code));
    PUT(numbers[0], number_len[0]);
    *o++ = ',';
    if (pairs) {
        PUT(p_ext, LIT(p_ext));
        for (Py_ssize_t j = 0; j < i; j += 2) {
            if (j) *o++ = ',';
            o += quote(spans[j].s, spans[j].n, o);
            *o++ = ':';
            o += quote(spans[j + 1].s, spans[j + 1].n, o);
        }
        *o++ = '}';
        *o++ = ',';
    }
    PUT(p_flag, LIT(p_flag));
    PUT(numbers[1], number_len[1]);
    *o++ = ',';
    PUT(p_lang, LIT(p_lang));
    PUT(lang_s, lang_n);
    PUT(p_opaque, LIT(p_opaque));
    PUT(numbers[2], number_len[2]);
    *o++ = ',';
    if (remark_s) {
        PUT(p_remark, LIT(p_remark));
        o += quote(remark_s, remark_n, o);
        *o++ = ',';
    }
    PUT(p_tail, LIT(p_tail));
    PUT(numbers[3], number_len[3]);
    *o++ = '}';
    if (o - PyBytes_AS_STRING(result) != size) { /* cannot happen: the sizes above are exact */
        Py_CLEAR(result);
        PyErr_SetString(PyExc_SystemError, "json header size mismatch");
    }
    goto done;
not_taken:
    PyErr_Clear(); /* e.g. a lone surrogate: the Python encoder raises its own error */
    result = Py_NewRef(Py_None);
done:
    if (spans != stack_spans) PyMem_Free(spans);
    return result;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "setup(command_class, language_by_name, serialize_type_json)"},
    {"decode_common", decode_common, METH_O, decode_common_doc},
    {"encode", (PyCFunction)(void (*)(void))encode, METH_FASTCALL, encode_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rmqcore.remoting._json_header",
    "The JSON header of the common command, in C (see rmqcore.remoting.json_header).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__json_header(void) { return PyModule_Create(&module); }
