//! Enums the store keeps as text (Dokploy's columns are text): the text of each variant,
//! and the conversions diesel's `serialize_as`/`deserialize_as = String` use. A text no
//! variant has is a database error, never a guess.

macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident as $what:literal {
        $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::StoreError;
            fn try_from(text: String) -> Result<$name, $crate::StoreError> {
                match text.as_str() {
                    $($text => Ok($name::$variant),)*
                    other => Err($crate::StoreError::Database(format!(concat!("unknown ", $what, " {:?}"), other))),
                }
            }
        }
    };
}
