/* The backend registry. The reference kernels are built in; others are
 * listed here when compiled. */
#include <string.h>

#include "engine_impl.h"

#ifdef JALAD_HAVE_DNNL
extern const struct jalad_backend jalad_backend_dnnl;
#endif

static const struct jalad_backend *const backends[] = {
#ifdef JALAD_HAVE_DNNL
	&jalad_backend_dnnl,
#endif
	NULL,
};

const struct jalad_backend *jalad_backend_lookup(const char *name)
{
	for (int i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *jalad_backend_default(void)
{
	return backends[0] ? backends[0]->name : "ref";
}
