/* poolimg: qemu-img's syntax over the image engine (placeholder). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "poolimg: not built yet\n");
    return 1;
}
