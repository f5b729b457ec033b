/* libFuzzer target over the client's reading of an IdMS answer (src/client/html.c): the login
 * page's form and hidden inputs, the error text of a refused login, the redirect that ends the
 * login, and the filter server text passes through on its way to an error message. These read
 * what a (possibly hostile) server sends, so they must stay within the input and within their
 * documented limits whatever it is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/login_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so that ASan catches a read one past the end */
    char *html = malloc(size ? size : 1);
    if (html == NULL)
        abort();
    memcpy(html, data, size);

    mcx_html_form form;
    if (mcx_html_form_scrape(html, size, &form) == MCX_OK) {
        if (form.n_inputs > MCX_FORM_INPUTS_MAX)
            abort();
        for (size_t i = 0; i < form.n_inputs; i++) {
            if (strlen(form.inputs[i].name) > MCX_FORM_NAME_MAX || form.inputs[i].value == NULL ||
                strlen(form.inputs[i].value) > MCX_FORM_VALUE_MAX)
                abort();
            /* a name looks up to the first input of that name */
            const char *v = mcx_html_form_value(&form, form.inputs[i].name);
            if (v == NULL)
                abort();
        }
        char *action = NULL;
        if (mcx_form_action_resolve("https://127.0.0.1:8443/authorize", form.action, &action) ==
            MCX_OK) {
            /* the password may only ever go back to the page's own origin */
            if (strncmp(action, "https://127.0.0.1:8443/", 23) != 0)
                abort();
            free(action);
        }
        mcx_html_form_free(&form);
    }

    char text[128];
    if (mcx_html_error_text(html, size, text, sizeof text)) {
        if (strlen(text) >= sizeof text)
            abort();
        for (const char *p = text; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E)
                abort();
    }

    /* the same octets as a Location header (a C string: stop at the first NUL) */
    char *location = malloc(size + 1);
    if (location == NULL)
        abort();
    memcpy(location, data, size);
    location[size] = '\0';
    mcx_redirect r;
    if (mcx_redirect_parse(location, "http://127.0.0.1/callback", &r) == MCX_OK) {
        if (strncmp(location, "http://127.0.0.1/callback", 25) != 0)
            abort();
        mcx_redirect_free(&r);
    }
    /* the same octets as server text bound for an error message (mcx_printable) */
    char shown[MCX_SHOWN_MAX];
    mcx_printable(location, shown, sizeof shown);
    if (strlen(shown) >= sizeof shown)
        abort();
    for (const char *p = shown; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E)
            abort();
    free(location);
    free(html);
    return 0;
}
