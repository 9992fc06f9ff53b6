/* The program each layer check links (daemon/meson.build): one folder's library with only
 * the libraries it may use; a reference to anything else is an undefined symbol. */
int main(void);

int main(void)
{
    return 0;
}
