//! What every export shares: the one panic boundary, the calling thread's last error, C string
//! inputs, `(buf, cap, out_len)` string outputs, and versioned structs (`struct_size`).

use std::cell::RefCell;
use std::ffi::CStr;
use std::mem::{size_of, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};

use libc::{c_char, size_t};

use crate::error::{Error, ErrorKind};

use super::types::{ClipsClient, ClipsHandle, ClipsResult, CLIPS_E_INTERNAL, CLIPS_OK};
use crate::Client;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub fn set_last_error(message: &str) {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.clear();
        last.push_str(message);
    });
}

pub fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|last| f(&last.borrow()))
}

/// Frees the calling thread's last error message.
pub fn with_last_error_cleared() {
    LAST_ERROR.with(|last| *last.borrow_mut() = String::new());
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// The panic boundary of every export that returns a result code: a caught panic becomes
/// `CLIPS_E_INTERNAL`, an error sets the thread's last error message.
pub fn guard(function: &'static str, body: impl FnOnce() -> Result<ClipsResult, Error>) -> ClipsResult {
    super::started::note_call(function);
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => code,
        Ok(Err(error)) => {
            set_last_error(&format!("{function}: {}", error.message));
            error.code()
        }
        Err(payload) => {
            set_last_error(&format!("{function}: internal error: {}", panic_message(payload.as_ref())));
            CLIPS_E_INTERNAL
        }
    }
}

/// The panic boundary of exports that return a value rather than a result code.
pub fn guard_value<T>(function: &'static str, neutral: T, body: impl FnOnce() -> T) -> T {
    super::started::note_call(function);
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        set_last_error(&format!("{function}: internal error: {}", panic_message(payload.as_ref())));
        neutral
    })
}

/// A required pointer argument.
pub fn non_null<T>(ptr: *const T, name: &str) -> Result<*const T, Error> {
    if ptr.is_null() {
        Err(Error::invalid(format!("{name} is NULL")))
    } else {
        Ok(ptr)
    }
}

pub fn non_null_mut<T>(ptr: *mut T, name: &str) -> Result<*mut T, Error> {
    non_null(ptr.cast_const(), name).map(|p| p.cast_mut())
}

/// An optional C string: NULL is `None`; invalid UTF-8 is an error naming the argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives `'a`.
pub unsafe fn opt_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated per the C contract stated in the header.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map(Some).map_err(|_| Error::invalid(format!("{name} is not valid UTF-8")))
}

/// A required C string.
///
/// # Safety
/// As for [`opt_str`].
pub unsafe fn req_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    unsafe { opt_str(ptr, name) }?.ok_or_else(|| Error::invalid(format!("{name} is NULL")))
}

/// A string argument or string field from C, as `Result<Option<&str>, Error>`: NULL is `None`, invalid
/// UTF-8 an error naming it. Every string the C API takes is NULL or NUL-terminated and outlives the
/// call (the header's contract), which is what makes reading it sound; so call sites need no `unsafe`.
macro_rules! c_str {
    ($ptr:expr, $name:expr) => {{
        let ptr: *const libc::c_char = $ptr;
        // SAFETY: NULL or NUL-terminated, and alive for the call, per the header's contract for every
        // string the C API takes.
        unsafe { $crate::ffi::boundary::opt_str(ptr, $name) }
    }};
}
pub(crate) use c_str;

/// As [`c_str!`], for a string that must be given: NULL is an error naming it.
macro_rules! required_c_str {
    ($ptr:expr, $name:expr) => {{
        let ptr: *const libc::c_char = $ptr;
        // SAFETY: as for `c_str!`.
        unsafe { $crate::ffi::boundary::req_str(ptr, $name) }
    }};
}
pub(crate) use required_c_str;

/// Writes a handle's text (`read` from the client) to the caller's buffer, as [`write_str`] does.
///
/// # Safety
/// `buf` is NULL or valid for `cap` bytes; `out_len` is NULL or valid for a write.
pub unsafe fn write_text_of(
    c: *mut ClipsClient,
    h: ClipsHandle,
    (buf, cap, out_len): (*mut c_char, size_t, *mut size_t),
    read: fn(&Client, u64) -> crate::Result<String>,
) -> crate::Result<ClipsResult> {
    let text = read(&*super::registry::lookup(c)?, h)?;
    // SAFETY: forwarded contract.
    unsafe { write_str(&text, buf, cap, out_len) }
}

/// Writes `value` as a NUL-terminated string: `*out_len` always receives the size needed (with the
/// NUL); nothing else is written when `cap` is too small.
///
/// # Safety
/// `buf` is NULL or valid for `cap` bytes; `out_len` is NULL or valid for a write.
pub unsafe fn write_str(
    value: &str,
    buf: *mut c_char,
    cap: size_t,
    out_len: *mut size_t,
) -> Result<ClipsResult, Error> {
    let out_len = non_null_mut(out_len, "out_len")?;
    let needed = value.len() + 1;
    // SAFETY: out_len is non-NULL and, per the contract, writable.
    unsafe { out_len.write(needed) };
    if cap < needed {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            format!("the buffer holds {cap} bytes; {needed} are needed (see *out_len)"),
        ));
    }
    let buf = non_null_mut(buf, "buf")?;
    // SAFETY: buf is valid for cap >= needed bytes; the source is a live &str.
    unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr(), buf.cast::<u8>(), value.len());
        buf.add(value.len()).write(0);
    }
    Ok(CLIPS_OK)
}

/// Writes a list: `*out_count` always receives its length; nothing else is written when `cap` is too small.
///
/// # Safety
/// `out` is NULL or valid for `cap` elements; `out_count` is NULL or valid for a write.
pub unsafe fn write_list<T: Copy>(
    values: &[T],
    out: *mut T,
    cap: size_t,
    out_count: *mut size_t,
) -> Result<ClipsResult, Error> {
    let out_count = non_null_mut(out_count, "out_count")?;
    // SAFETY: non-NULL and writable per the contract.
    unsafe { out_count.write(values.len()) };
    if values.is_empty() {
        return Ok(CLIPS_OK);
    }
    if cap < values.len() {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            format!("the array holds {cap} entries; {} are needed (see *out_count)", values.len()),
        ));
    }
    let out = non_null_mut(out, "out")?;
    // SAFETY: out is valid for cap >= values.len() elements.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
    Ok(CLIPS_OK)
}

/// A `#[repr(C)]` struct that starts with `uint32_t struct_size`.
///
/// # Safety
/// Implementors are `#[repr(C)]`, start with a `u32` size field, and list every field in `fields`
/// and every `bool` field in `bool_offsets`. (`ffi::tests` checks each list against the struct's
/// declaration in `structs/`, so a field added there and forgotten here fails the build's tests.)
pub unsafe trait Versioned: Copy {
    /// The C name, for messages.
    const NAME: &'static str;
    /// What `_init` writes, and what the fields an older (smaller) struct lacks hold.
    fn defaults() -> Self;
    /// (name, offset, end) of every field, in declaration order.
    fn fields() -> Vec<(&'static str, usize, usize)>;
    /// Offsets of `bool` fields, whose bytes must be 0 or 1.
    fn bool_offsets() -> Vec<usize> {
        Vec::new()
    }
}

pub fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// `(name, offset, end)` of each named field of a struct.
macro_rules! fields {
    ($t:ty; $($field:ident),+ $(,)?) => {
        vec![$({
            let start = std::mem::offset_of!($t, $field);
            (stringify!($field), start, start + $crate::ffi::boundary::field_size(|s: &$t| &s.$field))
        }),+]
    };
}
pub(crate) use fields;

/// A caller's `struct_size` is acceptable when it is no larger than ours and ends between fields (an
/// older header's struct ends after one of its fields, possibly with padding).
fn check_struct_size<T: Versioned>(size: u32) -> Result<usize, Error> {
    let name = T::NAME;
    let size = size as usize;
    if size > size_of::<T>() {
        return Err(Error::new(
            ErrorKind::IncompatibleVersion,
            format!(
                "{name}.struct_size is {size}, larger than this library's {} (built against a newer header?)",
                size_of::<T>()
            ),
        ));
    }
    if size < size_of::<u32>() || T::fields().iter().any(|&(_, start, end)| start < size && size < end) {
        return Err(Error::invalid(format!(
            "{name}.struct_size {size} is not the size of any version of {name}; call its _init function"
        )));
    }
    Ok(size)
}

/// Checks the `struct_size` of a caller's struct without reading or writing anything past its first field.
///
/// # Safety
/// `ptr` is non-NULL and valid for reading its leading `u32`.
pub unsafe fn check_versioned<T: Versioned>(ptr: *const T) -> Result<usize, Error> {
    // SAFETY: the struct starts with the u32 the caller filled in; unaligned read tolerates any caller.
    let size = unsafe { ptr.cast::<u32>().read_unaligned() };
    check_struct_size::<T>(size)
}

/// Reads a caller's struct: fields past its `struct_size` keep `defaults`.
///
/// # Safety
/// `ptr` is non-NULL and valid for reading `struct_size` bytes.
pub unsafe fn read_versioned<T: Versioned>(ptr: *const T) -> Result<T, Error> {
    let name = T::NAME;
    // SAFETY: forwarded contract.
    let size = unsafe { check_versioned(ptr) }?;
    let mut value = MaybeUninit::new(T::defaults());
    // SAFETY: the caller provides `size` readable bytes, `size <= size_of::<T>()`, regions are distinct.
    unsafe { std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), value.as_mut_ptr().cast::<u8>(), size) };
    for offset in T::bool_offsets() {
        // SAFETY: offset lies inside T, which `value` holds whole.
        let byte = unsafe { value.as_ptr().cast::<u8>().add(offset).read() };
        if byte > 1 {
            return Err(Error::invalid(format!("{name} has a bool field holding {byte}")));
        }
    }
    // SAFETY: every byte comes from `defaults` or the caller's struct of the same layout, and bool
    // bytes were checked; other fields accept any bit pattern.
    Ok(unsafe { value.assume_init() })
}

/// Writes `value` into a caller's struct, only as many bytes as its `struct_size` says it has.
///
/// # Safety
/// `out` is non-NULL and valid for reading and writing `struct_size` bytes.
pub unsafe fn write_versioned<T: Versioned>(out: *mut T, mut value: T) -> Result<(), Error> {
    // SAFETY: reading the leading u32 the caller set (via the _init function).
    let size = unsafe { out.cast::<u32>().read_unaligned() };
    // SAFETY: as above.
    let checked = unsafe { check_versioned(out) }?;
    // The caller's struct_size stays as it was.
    // SAFETY: T starts with its u32 struct_size field.
    unsafe { (&mut value as *mut T).cast::<u32>().write(size) };
    // SAFETY: out is valid for `checked` bytes; `value` is a live T of at least that size.
    unsafe { std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), out.cast::<u8>(), checked) };
    Ok(())
}

/// Fills a caller's struct of `size` bytes (the `sizeof` its header declared) with `defaults`, never
/// writing past `size`. A caller built against an older header gets the fields it has, and its
/// struct_size says so. A larger struct (a newer header) gets our fields, zeros after them and its own
/// struct_size, which every call then refuses with CLIPS_E_INCOMPATIBLE_VERSION (as this does). A size
/// that is no version's is refused and nothing is written.
///
/// # Safety
/// `out` is non-NULL and valid for writing `size` bytes.
unsafe fn init_versioned<T: Versioned>(out: *mut T, size: usize) -> Result<(), Error> {
    let name = T::NAME;
    let stated =
        u32::try_from(size).map_err(|_| Error::invalid(format!("{size} bytes is not the size of any {name}")))?;
    let ours = size_of::<T>();
    // A newer struct is refused too, but only after it holds our fields: its caller's later calls then
    // say why.
    let newer = size > ours;
    if !newer {
        check_struct_size::<T>(stated)?;
    }
    let mut value = T::defaults();
    // SAFETY: T starts with its u32 struct_size field.
    unsafe { (&mut value as *mut T).cast::<u32>().write(stated) };
    // SAFETY: out is valid for `size` bytes and `value` is a live T; the regions are distinct.
    unsafe { std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), out.cast::<u8>(), size.min(ours)) };
    if newer {
        // SAFETY: out is valid for `size` bytes.
        unsafe { out.cast::<u8>().add(ours).write_bytes(0, size - ours) };
        check_struct_size::<T>(stated)?;
    }
    Ok(())
}

/// The body of a sized `_init` export: `out` must be non-NULL, and gets the type's defaults with its
/// `struct_size`, never written past `size` bytes.
///
/// # Safety
/// `out` is NULL or valid for writing `size` bytes.
pub unsafe fn init_sized<T: Versioned>(out: *mut T, size: size_t) -> Result<ClipsResult, Error> {
    let out = non_null_mut(out, T::NAME)?;
    // SAFETY: non-NULL and, per the contract, writable for `size` bytes.
    unsafe { init_versioned(out, size) }?;
    Ok(CLIPS_OK)
}

/// The body of a plain `_init` export: `out` gets the defaults with its struct_size; NULL is ignored.
///
/// # Safety
/// `out` is NULL or valid for writing a whole `T`.
pub unsafe fn init_whole<T: Versioned>(out: *mut T) {
    if !out.is_null() {
        // SAFETY: non-NULL and, per the contract, a writable T.
        unsafe { out.write(T::defaults()) };
    }
}
