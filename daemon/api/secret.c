/* io.poold.Secret: secrets in libvirt's secret XML, values write-only (as libvirt's private
 * secrets: GetValue is refused, for every secret). */
#include "common/pd-error.h"
#include "daemon/observe/events.h"
#include "daemon/api/methods.h"
#include "daemon/model/secrets.h"
#include "xml/secret-xml.h"

#include <string.h>

/* Longest value accepted (decoded): CHAP secrets are at most 255 bytes; libvirt allows more. */
#define SECRET_VALUE_MAX 65536

static JsonObject *secret_json(const PdStoreSecret *s)
{
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "uuid", s->uuid);
    json_object_set_string_member(o, "usage_type", s->usage_type);
    json_object_set_string_member(o, "usage_id", s->usage_id);
    if (s->description)
        json_object_set_string_member(o, "description", s->description);
    json_object_set_boolean_member(o, "ephemeral", s->ephemeral);
    json_object_set_boolean_member(o, "private", s->private_);
    json_object_set_boolean_member(o, "has_value", s->has_value);
    return o;
}

PD_HANDLER(pd_method_secret_list)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) all = pd_store_secret_list(daemon->store, &error);
    if (!all) {
        pd_call_fail(call, error);
        return;
    }
    JsonArray *array = json_array_new();
    for (guint i = 0; i < all->len; i++)
        json_array_add_object_element(array, secret_json(g_ptr_array_index(all, i)));
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "secrets", array);
    pd_call_reply(call, reply);
}

/* A new definition must not take another secret's usage, nor change the usage of its UUID
 * (libvirt's rules). */
static bool check_define(PdDaemon *daemon, const PdSecretDef *def, GError **error)
{
    g_autoptr(GPtrArray) all = pd_store_secret_list(daemon->store, error);
    if (!all)
        return false;
    for (guint i = 0; i < all->len; i++) {
        const PdStoreSecret *s = g_ptr_array_index(all, i);
        bool same_uuid = g_str_equal(s->uuid, def->uuid);
        bool same_usage =
            g_str_equal(s->usage_type, def->usage_type) && g_str_equal(s->usage_id, def->usage_id);
        if (same_uuid && !same_usage) {
            g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                        "a secret with UUID %s is already defined for use with %s %s", s->uuid,
                        s->usage_type, s->usage_id);
            return false;
        }
        if (!same_uuid && same_usage) {
            g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                        "a secret with UUID %s already defined for use with %s %s", s->uuid,
                        s->usage_type, s->usage_id);
            return false;
        }
    }
    return true;
}

PD_HANDLER(pd_method_secret_define)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdSecretDef) def = pd_secret_def_parse(pd_param_string(params, "xml"), &error);
    if (!def || !check_define(daemon, def, &error)) {
        pd_call_fail(call, error);
        return;
    }
    PdStoreSecret row = {
        .uuid = def->uuid,
        .usage_type = def->usage_type,
        .usage_id = def->usage_id,
        .description = def->description,
        .ephemeral = def->ephemeral,
        .private_ = def->private_,
    };
    if (!pd_store_secret_put(daemon->store, &row, &error)) {
        pd_call_fail(call, error);
        return;
    }
    g_autoptr(PdStoreSecret) stored = pd_secret_lookup(daemon, def->uuid, &error);
    if (!stored) {
        pd_call_fail(call, error);
        return;
    }
    g_message("secret %s defined (usage %s %s)", stored->uuid, stored->usage_type,
              stored->usage_id);
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "secret", secret_json(stored));
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_secret_dump_xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStoreSecret) s =
        pd_secret_lookup(daemon, pd_param_string(params, "secret"), &error);
    if (!s) {
        pd_call_fail(call, error);
        return;
    }
    PdSecretDef def = {
        .uuid = s->uuid,
        .description = s->description,
        .ephemeral = s->ephemeral,
        .private_ = s->private_,
        .usage_type = s->usage_type,
        .usage_id = s->usage_id,
    };
    g_autofree char *xml = pd_secret_def_format(&def);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "xml", xml);
    pd_call_reply(call, reply);
}

/* Decodes base64 strictly (g_base64_decode accepts anything). NULL when @text is not base64. */
static guchar *decode_base64(const char *text, gsize *ret_len)
{
    size_t n = strlen(text);
    if (n == 0 || n % 4 != 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        bool pad = c == '=' && i >= n - 2 && (i == n - 1 || text[n - 1] == '=');
        if (!g_ascii_isalnum(c) && c != '+' && c != '/' && !pad)
            return NULL;
    }
    return g_base64_decode(text, ret_len);
}

PD_HANDLER(pd_method_secret_set_value)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStoreSecret) s =
        pd_secret_lookup(daemon, pd_param_string(params, "secret"), &error);
    if (!s) {
        pd_call_fail(call, error);
        return;
    }
    gsize len = 0;
    guchar *value = decode_base64(pd_param_string(params, "value"), &len);
    if (!value || len == 0 || len > SECRET_VALUE_MAX) {
        g_set_error(&error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "secret %s: the value must be base64 of 1 to %d bytes", s->uuid,
                    SECRET_VALUE_MAX);
    } else if (pd_store_secret_set_value(daemon->store, s->uuid, value, len, &error)) {
        g_message("secret %s: value set", s->uuid);
    }
    if (value) {
        explicit_bzero(value, len);
        g_free(value);
    }
    if (error)
        pd_call_fail(call, error);
    else
        pd_call_reply(call, NULL);
}

PD_HANDLER(pd_method_secret_get_value)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStoreSecret) s =
        pd_secret_lookup(daemon, pd_param_string(params, "secret"), &error);
    if (s)
        g_set_error(&error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "secret %s: the value cannot be read: poold's secrets are write-only (as "
                    "libvirt's private secrets)",
                    s->uuid);
    pd_call_fail(call, error);
}

PD_HANDLER(pd_method_secret_undefine)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStoreSecret) s =
        pd_secret_lookup(daemon, pd_param_string(params, "secret"), &error);
    if (!s || !pd_store_secret_delete(daemon->store, s->uuid, &error)) {
        pd_call_fail(call, error);
        return;
    }
    g_message("secret %s undefined", s->uuid);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "uuid", s->uuid);
    pd_call_reply(call, reply);
}
