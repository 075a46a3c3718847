//! A running VM's screen as a small PNG for a dashboard tile. libvirt hands over whatever QEMU
//! wrote (a PPM image); it is scaled down here so a tile never carries a full-size frame.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat};
use uuid::Uuid;

use super::libvirt::{owned_domain, CallError};
use super::{domain_name, HypervisorError, LibvirtHypervisor};

/// The widest a tile gets; smaller screens keep their size.
pub const TILE_MAX_WIDTH: u32 = 640;

impl LibvirtHypervisor {
    /// VM `id`'s screen as a PNG at most `max_width` pixels wide.
    pub async fn screenshot(&self, id: Uuid, max_width: u32) -> Result<Vec<u8>, HypervisorError> {
        let name = domain_name(id);
        let raw = self
            .with_conn(move |conn| {
                let dom = owned_domain(conn, &name)?
                    .filter(|dom| dom.is_active().unwrap_or(false))
                    .ok_or_else(|| CallError::Refused("the VM is not running".to_owned()))?;
                let stream = virt::stream::Stream::new(conn, 0)?;
                dom.screenshot(&stream, 0, 0)?;
                let mut image = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = stream.recv(&mut buf)?;
                    if n <= 0 {
                        break;
                    }
                    image.extend_from_slice(&buf[..n as usize]);
                }
                stream.finish()?;
                Ok(image)
            })
            .await?;
        tokio::task::spawn_blocking(move || tile_png(&raw, max_width))
            .await
            .map_err(|e| HypervisorError::Failed(format!("screenshot conversion panicked: {e}")))?
    }
}

/// Decodes a screenshot (PPM, or anything `image` recognises) and encodes it as a PNG no wider
/// than `max_width`, keeping its aspect ratio.
pub fn tile_png(raw: &[u8], max_width: u32) -> Result<Vec<u8>, HypervisorError> {
    let screen = image::load_from_memory(raw)
        .map_err(|e| HypervisorError::Failed(format!("unreadable screenshot: {e}")))?;
    let tile: DynamicImage = if screen.width() > max_width {
        let height = (u64::from(screen.height()) * u64::from(max_width) / u64::from(screen.width()))
            .max(1) as u32;
        screen.thumbnail_exact(max_width, height)
    } else {
        screen
    };
    let mut png = Vec::new();
    tile.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| HypervisorError::Failed(format!("cannot encode the screenshot: {e}")))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppm(width: u32, height: u32) -> Vec<u8> {
        let mut ppm = format!("P6\n{width} {height}\n255\n").into_bytes();
        ppm.extend((0..width * height).flat_map(|i| [(i % 256) as u8, 0, 255]));
        ppm
    }

    #[test]
    fn large_screens_are_scaled_to_the_tile_and_small_ones_kept() {
        let png = tile_png(&ppm(1280, 800), 640).unwrap();
        let tile = image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap();
        assert_eq!((tile.width(), tile.height()), (640, 400));
        let small = image::load_from_memory(&tile_png(&ppm(320, 200), 640).unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (320, 200));
        assert!(tile_png(b"not an image", 640).is_err());
    }
}
