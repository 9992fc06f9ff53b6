/* Building a <disk> element for attach-disk. */
#include "daemon/libvirt/disk.h"

#include "common/pd-error.h"
#include "xml/xml-util.h"

#include <string.h>

static const char *const buses[] = {"virtio", "scsi", "sata", "ide", "usb",
                                    "fdc",    "sd",   "xen",  NULL};
static const char *const caches[] = {"default", "none", "writethrough", "writeback", "directsync",
                                     "unsafe",  NULL};
static const char *const devices[] = {"disk", "cdrom", "floppy", "lun", NULL};
static const char *const modes[] = {"readonly", "shareable", NULL};
/* Volume formats QEMU opens as themselves. */
static const char *const qemu_formats[] = {"raw",  "qcow2", "qcow", "qed",   "vmdk",  "vpc",
                                           "vhdx", "vdi",   "dmg",  "cloop", "bochs", NULL};

bool pd_libvirt_target_name_valid(const char *target)
{
    static const char *const prefixes[] = {"xvd", "vd", "sd", "hd", "fd", "ubd", NULL};
    for (const char *const *p = prefixes; *p; p++) {
        if (!g_str_has_prefix(target, *p))
            continue;
        const char *rest = target + strlen(*p);
        size_t n = strlen(rest);
        if (n < 1 || n > 4)
            return false;
        for (size_t i = 0; i < n; i++)
            if (rest[i] < 'a' || rest[i] > 'z')
                return false;
        return true;
    }
    return false;
}

const char *pd_libvirt_driver_type(const char *format)
{
    if (!format)
        return NULL;
    if (g_str_equal(format, "iso"))
        return "raw";
    for (const char *const *f = qemu_formats; *f; f++)
        if (g_str_equal(*f, format))
            return *f;
    return NULL;
}

/* Checks that @value (when given) is one of @allowed; else an error naming the option. */
static bool check_choice(const char *option, const char *value, const char *const *allowed,
                         GError **error)
{
    if (!value || g_strv_contains(allowed, value))
        return true;
    g_autofree char *list = g_strjoinv(", ", (char **)allowed);
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "unsupported %s '%s': use one of %s",
                option, value, list);
    return false;
}

/* True for a plain lower-case word ("qemu"). */
static bool is_word(const char *s)
{
    if (!*s || strlen(s) > 32)
        return false;
    for (; *s; s++)
        if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '_')
            return false;
    return true;
}

static bool check_spec(const PdDiskSpec *spec, GError **error)
{
    if (!spec->target || !pd_libvirt_target_name_valid(spec->target)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "invalid disk target '%s': use a name like vdb, sda or hdc",
                    spec->target ? spec->target : "");
        return false;
    }
    if (spec->driver && !is_word(spec->driver)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "invalid driver name '%s'",
                    spec->driver);
        return false;
    }
    if (!pd_libvirt_driver_type(spec->format)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "format '%s' cannot be attached as a disk: use raw, qcow2 or another format "
                    "QEMU opens (--subdriver)",
                    spec->format ? spec->format : "(not recorded)");
        return false;
    }
    return check_choice("bus", spec->bus, buses, error) &&
           check_choice("cache mode", spec->cache, caches, error) &&
           check_choice("disk type", spec->device, devices, error) &&
           check_choice("mode", spec->mode, modes, error);
}

static const char *source_type_name(PdDiskSourceType type)
{
    switch (type) {
    case PD_DISK_SOURCE_FILE:
        return "file";
    case PD_DISK_SOURCE_BLOCK:
        return "block";
    case PD_DISK_SOURCE_NETWORK:
        return "network";
    }
    return NULL;
}

/* Appends " NAME='VALUE'" with VALUE escaped. */
static void attr(GString *out, const char *name, const char *value)
{
    g_autofree char *escaped = pd_xml_escape(value);
    g_string_append_printf(out, " %s='%s'", name, escaped);
}

/* The secret type of a network protocol's <auth> (libvirt: iscsi, ceph for rbd). */
static const char *secret_type(const char *protocol)
{
    return g_str_equal(protocol, "rbd") ? "ceph" : protocol;
}

static bool append_network_source(GString *out, const PdDiskSource *src, GError **error)
{
    if (!src->protocol || !is_word(src->protocol) || !src->name || !src->host_name) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "network disk source needs a protocol, a name and a host");
        return false;
    }
    g_string_append(out, "  <source");
    attr(out, "protocol", src->protocol);
    attr(out, "name", src->name);
    g_string_append(out, ">\n    <host");
    attr(out, "name", src->host_name);
    if (src->host_port) {
        g_autofree char *port = g_strdup_printf("%u", src->host_port);
        attr(out, "port", port);
    }
    g_string_append(out, "/>\n");
    if (src->auth_username && (src->auth_secret_usage || src->auth_secret_uuid)) {
        g_string_append(out, "    <auth");
        attr(out, "username", src->auth_username);
        g_string_append(out, ">\n      <secret");
        attr(out, "type", secret_type(src->protocol));
        if (src->auth_secret_uuid)
            attr(out, "uuid", src->auth_secret_uuid);
        else
            attr(out, "usage", src->auth_secret_usage);
        g_string_append(out, "/>\n    </auth>\n");
    }
    g_string_append(out, "  </source>\n");
    return true;
}

static bool append_source(GString *out, const PdDiskSource *src, GError **error)
{
    if (src->type == PD_DISK_SOURCE_NETWORK)
        return append_network_source(out, src, error);
    if (!src->path || !g_path_is_absolute(src->path)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "disk source needs an absolute path");
        return false;
    }
    g_string_append(out, "  <source");
    attr(out, src->type == PD_DISK_SOURCE_BLOCK ? "dev" : "file", src->path);
    g_string_append(out, "/>\n");
    return true;
}

char *pd_libvirt_disk_xml(const PdDiskSpec *spec, GError **error)
{
    if (!spec->source || !source_type_name(spec->source->type)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "disk without a source");
        return NULL;
    }
    if (!check_spec(spec, error))
        return NULL;
    g_autoptr(GString) out = g_string_new("<disk");
    attr(out, "type", source_type_name(spec->source->type));
    attr(out, "device", spec->device ? spec->device : "disk");
    g_string_append(out, ">\n  <driver");
    attr(out, "name", spec->driver ? spec->driver : "qemu");
    attr(out, "type", pd_libvirt_driver_type(spec->format));
    if (spec->cache)
        attr(out, "cache", spec->cache);
    g_string_append(out, "/>\n");
    if (!append_source(out, spec->source, error))
        return NULL;
    g_string_append(out, "  <target");
    attr(out, "dev", spec->target);
    if (spec->bus)
        attr(out, "bus", spec->bus);
    g_string_append(out, "/>\n");
    if (spec->mode)
        g_string_append_printf(out, "  <%s/>\n", spec->mode);
    g_string_append(out, "</disk>\n");
    return g_string_free(g_steal_pointer(&out), false);
}
