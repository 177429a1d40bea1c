{
  "targets": [
    {
      "target_name": "stevedore_native",
      "sources": ["stevedore_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-D_GNU_SOURCE"],
      "libraries": ["-lseccomp"]
    }
  ]
}
