#!/usr/bin/env bash
# make install PREFIX= DESTDIR= installs the binary, the static library, the
# public headers and a pkg-config file a program can build against.
source "$(dirname "$0")/lib.sh"
src=${STAGEFORK_SRC:?}
build=${STAGEFORK_BUILD:?}
dest=$T_TMP/root
prefix=/opt/sf

check "make install" make -s -C "$src" BUILD="$(basename "$build")" SAN="${SAN:-0}" install PREFIX="$prefix" DESTDIR="$dest"
for f in bin/stagefork lib/libstagefork.a lib/pkgconfig/stagefork.pc include/stagefork/stagefork.h include/stagefork/mask.h; do
  [[ -f $dest$prefix/$f ]] && ok "installed $f" || fail "installed $f" "missing $dest$prefix/$f"
done
[[ -x $dest$prefix/bin/stagefork ]] && ok "binary is executable" || fail "binary is executable"
out=$("$dest$prefix/bin/stagefork" --version | head -1)
[[ $out == "stagefork "* ]] && ok "installed binary runs" || fail "installed binary runs" "$out"

pc=$dest$prefix/lib/pkgconfig
grep -q "^prefix=$prefix\$" "$pc/stagefork.pc" && ok "pc file names the prefix" || fail "pc file names the prefix" "$(cat "$pc/stagefork.pc")"
cflags=$(PKG_CONFIG_PATH=$pc pkg-config --define-variable=prefix="$dest$prefix" --cflags stagefork)
libs=$(PKG_CONFIG_PATH=$pc pkg-config --define-variable=prefix="$dest$prefix" --libs stagefork)
assert_eq 0 $? "pkg-config resolves stagefork and its dependencies"
cat > "$T_TMP/use.c" <<'C'
#include <stdio.h>
#include <stagefork/stagefork.h>
int main(void)
{
    sf_buf b = SF_BUF_INIT;
    int64_t secs;
    if (sf_duration_parse(&secs, "1h30m", NULL) != 0 || secs != 5400)
        return 1;
    sf_buf_addf(&b, "stagefork %s", sf_version());
    puts(b.ptr);
    sf_buf_free(&b);
    return 0;
}
C
san=()
[[ ${SAN:-0} == 1 ]] && san=(-fsanitize=address,undefined)
check "a program builds against the installed library" cc -std=c11 "${san[@]}" $cflags "$T_TMP/use.c" -o "$T_TMP/use" $libs
out=$("$T_TMP/use")
[[ $out == "stagefork "* ]] && ok "and runs" || fail "and runs" "$out"
finish
