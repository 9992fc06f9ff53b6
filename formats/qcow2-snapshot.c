/* qcow2-snapshot: to be written (issue 2). */
#include "formats/qcow2.h"
