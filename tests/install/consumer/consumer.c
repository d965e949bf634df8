/* Uses the installed C API. */
#include <qasr/qasr.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  qasr_params p = qasr_default_params();
  qasr_model* m = NULL;
  char err[256];
  qasr_status s = qasr_model_load("/nonexistent/model.qasr", p.threads, &m, err, sizeof err);
  printf("%s: beam %d, load -> %d (%s)\n", qasr_version(), p.beam, (int)s, err);
  return s == QASR_ERR_NOT_FOUND && m == NULL && strstr(err, "nonexistent") != NULL ? 0 : 1;
}
