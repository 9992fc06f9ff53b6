/* poolimg: main and the command table. */
#include "client/poolimg.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
} PiCommand;

/* The command table is data: name, handler, the synopsis --help prints. */
static const PiCommand commands[] = {
    {"amend", pi_cmd_amend, "amend [-p] [-q] [-f fmt] [--force] -o options filename"},
    {"check", pi_cmd_check, "check [-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-U] filename"},
    {"commit", pi_cmd_commit, "commit [-q] [-f fmt] [-b base] [-d] [-p] filename"},
    {"compare", pi_cmd_compare,
     "compare [-f fmt] [-F fmt] [-p] [-q] [-s] [-U] filename1 filename2"},
    {"convert", pi_cmd_convert,
     "convert [--target-is-zero] [-U] [-c] [-p] [-q] [-n] [-f fmt] [-O output_fmt] "
     "[-B backing_file [-F backing_fmt]] [-o options] [-S sparse_size] [-m num_coroutines] [-W] "
     "filename output_filename"},
    {"create", pi_cmd_create,
     "create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename "
     "[size]"},
    {"info", pi_cmd_info, "info [-f fmt] [--output=ofmt] [--backing-chain] [-U] filename"},
    {"map", pi_cmd_map,
     "map [-f fmt] [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U] filename"},
    {"measure", pi_cmd_measure,
     "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [-f fmt] filename]"},
    {"snapshot", pi_cmd_snapshot,
     "snapshot [-U] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename"},
    {"rebase", pi_cmd_rebase,
     "rebase [-U] [-q] [-f fmt] [-p] [-u] -b backing_file [-F backing_fmt] filename"},
    {"resize", pi_cmd_resize,
     "resize [-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size"},
};

void pi_help(void)
{
    printf("usage: poolimg [standard options] command [command options]\n"
           "poold disk image utility (qemu-img's commands over poold's image engine)\n\n"
           "    '-h', '--help'       display this help and exit\n"
           "    '-V', '--version'    output version information and exit\n\n"
           "Command syntax:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        printf("  %s\n", commands[i].synopsis);
    printf("\nCommand parameters:\n"
           "  'filename' is a disk image filename\n"
           "  'fmt' is the disk image format (raw or qcow2). It is guessed from the contents\n"
           "    when not given; give it for raw images written by guests\n"
           "  'size' is the disk image size in bytes. Optional suffixes 'k' or 'K' (1024),\n"
           "    'M', 'G', 'T', 'P' and 'E' (powers of 1024) are supported. 'b' is ignored\n"
           "  'options' is a comma separated list of format specific options in a\n"
           "    name=value format. Use -o help for an overview of the options\n"
           "  '-c' writes compressed clusters (qcow2 targets)\n"
           "  '-u' unsafe: rebase without comparing data; create without opening the backing file\n"
           "  '-p' show progress of command (only certain commands)\n"
           "  '-q' quiet mode: print nothing but errors\n"
           "  '-S' consecutive zero bytes (default 4k) convert leaves sparse; 0 allocates all\n"
           "  '--output' takes the format in which the output must be done (human or json)\n"
           "  '-n' skips the target volume creation\n"
           "\nSupported formats: raw qcow2\n"
           "\nSee poolimg(1) for details.\n");
}

int main(int argc, char **argv)
{
    /* Compression allocates and frees a deflate state per cluster on every worker thread;
     * without these glibc hands the memory back (madvise) and faults it in again each time,
     * which costs more than the compression itself on a busy machine. */
    (void)mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    if (argc < 2)
        return pi_usage_error("Not enough arguments");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        pi_help();
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("poolimg version %s\n", PI_VERSION);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return pi_usage_error("Command not found: %s", cmd);
}
