/* qcow2-refcount: to be written (issue 2). */
#include "formats/qcow2.h"
