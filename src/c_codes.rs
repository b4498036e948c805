//! One table per enum the C ABI names by code: each variant's value and `CLIPS_*` name are written
//! once, and the enum, its `ALL` list and `name()` are made from it.

/// Declares `enum $enum` with the given values, `$enum::ALL` (every variant, in order) and
/// `$enum::name()` (the C name of a value, as the header spells it).
macro_rules! c_codes {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident: $repr:ty {
            $($(#[$variant_meta:meta])* $variant:ident = $code:literal => $c_name:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        pub enum $enum {
            $($(#[$variant_meta])* $variant = $code,)+
        }

        impl $enum {
            pub const ALL: &'static [$enum] = &[$($enum::$variant),+];

            /// The C name, as the header and `clips_result_name` give it.
            pub const fn name(self) -> &'static std::ffi::CStr {
                match self {
                    $($enum::$variant => $c_name,)+
                }
            }
        }
    };
}

pub(crate) use c_codes;
